/** What the stream services built on the exactly-once stage (processor, agent and tenant stages) are made from. */
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import type { PolicyBook } from '../streams/policies.js';
import type { Logger } from './logger.js';
import type { Metrics } from './observability/metrics.js';

export interface StageServiceOptions {
  log: EventLog;
  topics: Topics;
  logger: Logger;
  groupId?: string;
  /** Shared with whoever else needs the policies (tests); otherwise the service keeps its own. */
  policies?: PolicyBook;
  /** Prometheus counters to keep (services/observability); counted once per committed batch. */
  metrics?: Metrics;
}
