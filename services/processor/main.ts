/** The processor as its own process (one container per instance; instances form a group). */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, observeHeadless } from '../observability/index.js';
import { openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createProcessor } from './processor.js';

const config = loadConfig();
const logger = createLogger('processor');
if (!config.kafkaBrokers) throw new Error('the processor process needs KAFKA_BROKERS (the in-memory log only exists inside `npm start`)');
const { log, topics } = await openEventLog(config, logger);
const metrics = createMetrics('processor');
// Group ids carry the topic prefix: two Fusebox deployments on one cluster never share a group.
const processor = createProcessor({ log, topics, logger, groupId: `${config.topicPrefix}.processor`, metrics });
const http = await observeHeadless('processor', { metrics, config, logger, lag: processor.lag });
await processor.start();
logger.info('processing', { brokers: config.kafkaBrokers, spans: topics.spans });
await runUntilSignal(logger, async () => { await processor.stop(); await http.close(); await log.close(); });
