/** The processor as its own process (one container per instance; instances form a group). */
import { z } from 'zod';
import { loadConfig, parseEnv } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, observeHeadless } from '../observability/index.js';
import { openEventLog } from '../runtime.js';
import { runUntilSignal } from '../signals.js';
import { createProcessor } from './processor.js';

const config = loadConfig();
// The processor's own knobs: how long (event time) finished trees stay in memory, and their
// summaries; whether trips also take the early lane.
const knobs = parseEnv(z.object({
  FUSEBOX_TREE_RETENTION_MS: z.coerce.number().int().min(60_000, { message: 'at least 60000 (a minute of event time)' }).optional(),
  FUSEBOX_TREE_SUMMARY_RETENTION_MS: z.coerce.number().int().min(60_000, { message: 'at least 60000 (a minute of event time)' }).optional(),
  // Trips sent at once outside the transaction too (./early-lane.ts); `off` leaves agents the committed copy only.
  FUSEBOX_EARLY_TRIPS: z.enum(['on', 'off'], { message: "'on' or 'off'" }).default('on'),
}), process.env);
const logger = createLogger('processor');
if (!config.kafkaBrokers) throw new Error('the processor process needs KAFKA_BROKERS (the in-memory log only exists inside `npm start`)');
const { log, topics } = await openEventLog(config, logger);
const metrics = createMetrics('processor');
// Group ids carry the topic prefix: two Fusebox deployments on one cluster never share a group.
const processor = createProcessor({ log, topics, logger, groupId: `${config.topicPrefix}.processor`, metrics, eviction: { retentionMs: knobs.FUSEBOX_TREE_RETENTION_MS, summaryRetentionMs: knobs.FUSEBOX_TREE_SUMMARY_RETENTION_MS }, earlyTrips: knobs.FUSEBOX_EARLY_TRIPS === 'on' });
const http = await observeHeadless('processor', { metrics, config, logger, lag: processor.lag });
await processor.start();
logger.info('processing', { brokers: config.kafkaBrokers, spans: topics.spans });
await runUntilSignal(logger, async () => { await processor.stop(); await http.close(); await log.close(); });
