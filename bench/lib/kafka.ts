/**
 * Kafka plumbing shared by scenarios: fresh topics per run, a raw kafkajs producer for preloads
 * and the ceiling, and a raw reader for checking what landed on a topic.
 *
 * Raw means kafkajs with nothing of Fusebox on top, but partitioned with Fusebox's own murmur2
 * partitioner so a preloaded span sits exactly where the client would have put it.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { createKafkaLog } from '../../log/kafka.js';
import { partitionForKey } from '../../log/partitioner.js';
import type { EventLog, LogMessage } from '../../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../../log/topics.js';
import type { EncodedSpan } from './workload.js';

export interface BenchTopics {
  log: EventLog;
  topics: Topics;
  prefix: string;
  partitions: number;
}

/** Fusebox's five topics under a fresh prefix, created through the event log port. */
export async function freshTopics(brokers: string[], scenario: string, partitions: number): Promise<BenchTopics> {
  const prefix = `bench-${scenario}-${randomUUID().slice(0, 8)}`;
  const log = createKafkaLog({ brokers, clientId: prefix });
  const topics = topicNames(prefix);
  await log.ensureTopics(topicSpecs(topics, partitions));
  return { log, topics, prefix, partitions };
}

/** Removes a run's topics, so repeated runs against an external cluster leave nothing behind. */
export async function deleteTopics(brokers: string[], topics: Topics): Promise<void> {
  const admin = rawKafka(brokers, 'bench-cleanup').admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(topics), timeout: 10_000 });
  } catch {
    // Best effort: a broker that is going away with the bench takes its topics with it.
  } finally {
    await admin.disconnect();
  }
}

export function rawKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 8 } });
}

export interface RawProduceOptions {
  partitions: number;
  /** Messages per produce request. */
  batchSize: number;
  /** Produce requests outstanding at once. */
  inFlight: number;
  /** kafkajs's idempotent producer (max one request in flight), as Fusebox's producer is. */
  idempotent?: boolean;
  onProgress?: (sent: number) => void;
}

/** Produces every message with acks=all; resolves with the wall time from first send to last ack. */
export async function produceRaw(brokers: string[], topic: string, messages: readonly EncodedSpan[], options: RawProduceOptions): Promise<{ elapsedMs: number }> {
  const producer: Producer = rawKafka(brokers, 'bench-producer').producer({
    allowAutoTopicCreation: false,
    idempotent: options.idempotent ?? false,
    ...(options.idempotent ? { maxInFlightRequests: 1 } : {}),
  });
  await producer.connect();
  try {
    const started = performance.now();
    let next = 0;
    let sent = 0;
    let lastReport = 0;
    // A fixed pool of senders, each taking the next slice: at most `inFlight` requests outstanding.
    const sender = async () => {
      while (next < messages.length) {
        const slice = messages.slice(next, next + options.batchSize);
        next += slice.length;
        await producer.send({
          topic,
          acks: -1,
          messages: slice.map((m) => ({ key: m.key, value: m.value, partition: partitionForKey(m.key, options.partitions) })),
        });
        sent += slice.length;
        if (options.onProgress && sent - lastReport >= messages.length / 4) {
          lastReport = sent;
          options.onProgress(sent);
        }
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, sender));
    return { elapsedMs: performance.now() - started };
  } finally {
    await producer.disconnect();
  }
}

/** Every message currently on a topic, read once from the beginning by a throwaway group. */
export async function readAll(brokers: string[], topic: string, timeoutMs = 30_000): Promise<LogMessage[]> {
  const kafka = rawKafka(brokers, 'bench-reader');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const expected = ends.reduce((total, p) => total + Number(p.high) - Number(p.low), 0);
  const messages: LogMessage[] = [];
  if (expected === 0) return messages;
  const consumer = kafka.consumer({ groupId: `bench-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const done = new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`read ${messages.length} of ${expected} messages on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        messages.push({ topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, value: message.value, timestampMs: Number(message.timestamp), headers: {} });
        if (messages.length >= expected) {
          clearTimeout(timer);
          ok();
        }
      },
    });
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/**
 * A fresh broker creates `__consumer_offsets` on the first group join and `__transaction_state`
 * on the first idempotent producer; until they load, kafkajs retries (and logs). Doing both once
 * up front keeps that one-off cost out of the first scenario's figures.
 */
export async function warmBroker(brokers: string[]): Promise<void> {
  const kafka = rawKafka(brokers, 'bench-warmup');
  const topic = `bench-warmup-${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'warm', value: 'up' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `bench-warmup-${randomUUID()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((ok) => {
    void consumer.run({ eachMessage: async () => ok() });
  });
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
}
