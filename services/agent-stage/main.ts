/** The agent stage as its own process (instances form a consumer group on agent-signals). */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, observeHeadless } from '../observability/index.js';
import { openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createAgentStage } from './agent-stage.js';

const config = loadConfig();
const logger = createLogger('agent-stage');
if (!config.kafkaBrokers) throw new Error('the agent stage process needs KAFKA_BROKERS (the in-memory log only exists inside `npm start`)');
const { log, topics } = await openEventLog(config, logger);
const metrics = createMetrics('agent-stage');
const stage = createAgentStage({ log, topics, logger, groupId: `${config.topicPrefix}.agent-stage`, metrics });
const http = await observeHeadless('agent-stage', { metrics, config, logger, lag: stage.lag });
await stage.start();
logger.info('watching agents', { brokers: config.kafkaBrokers, signals: topics.agentSignals });
await runUntilSignal(logger, async () => { await stage.stop(); await http.close(); await log.close(); });
