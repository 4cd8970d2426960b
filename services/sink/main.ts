/** The sink as its own process. */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, observeHeadless, storeCheck } from '../observability/index.js';
import { openConfiguredStore, openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createSink } from './sink.js';

const config = loadConfig();
const logger = createLogger('sink');
if (!config.kafkaBrokers) throw new Error('the sink process needs KAFKA_BROKERS (the in-memory log only exists inside `npm start`)');
const { log, topics } = await openEventLog(config, logger);
const store = await openConfiguredStore(config);
const metrics = createMetrics('sink');
const sink = createSink({ log, topics, store, logger, groupId: `${config.topicPrefix}.sink`, metrics });
const http = await observeHeadless('sink', { metrics, config, logger, lag: sink.lag, checks: { store: storeCheck(store) } });
await sink.start();
logger.info('sinking', { brokers: config.kafkaBrokers, store: store.describe });
await runUntilSignal(logger, async () => { await sink.stop(); await http.close(); await log.close(); await store.close(); });
