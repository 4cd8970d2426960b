/** The tenant stage as its own process (instances form a consumer group on tenant-spend). */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, observeHeadless } from '../observability/index.js';
import { openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createTenantStage } from './tenant-stage.js';

const config = loadConfig();
const logger = createLogger('tenant-stage');
if (!config.kafkaBrokers) throw new Error('the tenant stage process needs KAFKA_BROKERS (the in-memory log only exists inside `npm start`)');
const { log, topics } = await openEventLog(config, logger);
const metrics = createMetrics('tenant-stage');
const stage = createTenantStage({ log, topics, logger, groupId: `${config.topicPrefix}.tenant-stage`, metrics });
const http = await observeHeadless('tenant-stage', { metrics, config, logger, lag: stage.lag });
await stage.start();
logger.info('watching tenant spend', { brokers: config.kafkaBrokers, signals: topics.tenantSpend });
await runUntilSignal(logger, async () => { await stage.stop(); await http.close(); await log.close(); });
