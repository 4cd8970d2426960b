/** Builds the I/O a Fusebox process needs from its Config. */
import { createKafkaLog } from '../log/kafka.js';
import { createMemoryLog } from '../log/memory.js';
import type { EventLog } from '../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../log/topics.js';
import { openStore, type Store } from '../storage/store.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export async function openEventLog(config: Config, logger: Logger): Promise<{ log: EventLog; topics: Topics }> {
  const log = config.kafkaBrokers
    ? createKafkaLog({ brokers: [...config.kafkaBrokers], clientId: 'fusebox', log: (line) => logger.warn(line) })
    : createMemoryLog();
  const topics = topicNames(config.topicPrefix);
  await log.ensureTopics(topicSpecs(topics, config.partitions));
  return { log, topics };
}

export function openConfiguredStore(config: Config): Promise<Store> {
  return openStore(config.clickhouse);
}
