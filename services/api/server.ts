/**
 * The query API as its own process: `npx tsx services/api/server.ts`. Reads the same
 * environment as the other services (KAFKA_BROKERS, CLICKHOUSE_URL, ...) plus
 * FUSEBOX_API_HOST / FUSEBOX_API_PORT. With embedded chDB, only one process may open the data
 * folder: run the API against a ClickHouse server (CLICKHOUSE_URL) beside a running pipeline.
 */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { openConfiguredStore, openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createMetrics, kafkaCheck, storeCheck } from '../observability/index.js';
import { buildApp } from './app.js';
import { loadApiConfig } from './config.js';

const config = loadConfig();
const apiConfig = loadApiConfig();
const logger = createLogger('api');
if (!config.kafkaBrokers) logger.warn('no KAFKA_BROKERS: halts and resets go to an in-memory log no agent reads');
const store = await openConfiguredStore(config);
const { log, topics } = await openEventLog(config, logger);
const kafka = config.kafkaBrokers ? kafkaCheck(config.kafkaBrokers) : null;
const app = await buildApp({ store, log, topics, logger, metrics: createMetrics('api'), checks: { store: storeCheck(store), ...(kafka ? { kafka } : {}) } });
const address = await app.listen({ host: apiConfig.host, port: apiConfig.port });
logger.info('query API listening', { address, openapi: `${address}/openapi.json`, store: store.describe, log: log.describe });
await runUntilSignal(logger, async () => {
  await app.close();
  await kafka?.close();
  await log.close();
  await store.close();
});
