/** Helpers for integration tests on the real broker. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createKafkaLog } from '../log/kafka.js';
import type { EventLog } from '../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../log/topics.js';

export function brokers(): string[] {
  return inject('kafkaBrokers').split(',');
}

/** A Kafka event log with its own fresh topics, so test files never see each other's data. */
export async function freshKafka(partitions = 3): Promise<{ log: EventLog; topics: Topics; prefix: string }> {
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const log = createKafkaLog({ brokers: brokers(), clientId: prefix });
  const topics = topicNames(prefix);
  await log.ensureTopics(topicSpecs(topics, partitions));
  return { log, topics, prefix };
}

/** Polls until `check` returns a value that is not undefined/false, or fails naming `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}
