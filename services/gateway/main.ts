/**
 * The gateway as its own process: `npm run gateway`. Reads the shared environment
 * (KAFKA_BROKERS, CLICKHOUSE_URL, FUSEBOX_TOPIC_PREFIX, ...) and its own FUSEBOX_GATEWAY_*
 * (config.ts). It needs ClickHouse for API keys and the access log; with embedded chDB only one
 * process may open the data folder, so beside a running pipeline use a ClickHouse server.
 */
import { breakerTopics } from '../../log/topics.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, kafkaCheck, storeCheck } from '../observability/index.js';
import { openConfiguredStore, openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { buildGateway } from './app.js';
import { loadGatewayConfig } from './config.js';
import { createControlFollower } from './control-follower.js';

const config = loadConfig();
const gatewayConfig = loadGatewayConfig();
const logger = createLogger('gateway');
if (!config.kafkaBrokers) logger.warn('no KAFKA_BROKERS: spans go to an in-memory log that no processor in another process reads');
const store = await openConfiguredStore(config);
const { log, topics } = await openEventLog(config, logger);
const follower = createControlFollower(log, breakerTopics(topics), logger.child('control'));
await follower.start();
const kafka = config.kafkaBrokers ? kafkaCheck(config.kafkaBrokers) : null;
const app = await buildGateway({
  store, log, topics, logger, follower, metrics: createMetrics('gateway'), limits: gatewayConfig,
  checks: { store: storeCheck(store), ...(kafka ? { kafka } : {}) },
});
const address = await app.listen({ host: gatewayConfig.host, port: gatewayConfig.port });
logger.info('gateway listening', { address, spans: topics.spans, store: store.describe, log: log.describe, controlEventsApplied: follower.applied });
await runUntilSignal(logger, async () => {
  await app.close();
  await follower.stop();
  await kafka?.close();
  await log.close();
  await store.close();
});
