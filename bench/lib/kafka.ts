/**
 * Kafka plumbing shared by scenarios: fresh topics per run, a raw kafkajs producer for preloads
 * and the ceiling, and a raw reader for checking what landed on a topic.
 *
 * Raw means kafkajs with nothing of Fusebox on top, but partitioned with Fusebox's own murmur2
 * partitioner so a preloaded span sits exactly where the client would have put it.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Producer } from '../../log/kafkajs.js';
import { createKafkaLog } from '../../log/kafka.js';
import { partitionForKey } from '../../log/partitioner.js';
import { createWireProducer } from '../../log/wire/producer.js';
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
  /** kafkajs's idempotent producer (max one request in flight), as Fusebox's producer was. */
  idempotent?: boolean;
  /** 'wire': Fusebox's own producer (log/wire), as its clients and gateway send now. Default kafkajs. */
  via?: 'kafkajs' | 'wire';
  onProgress?: (sent: number) => void;
}

/**
 * How scenarios preload a topic. One request in flight on an idempotent producer: with several
 * in flight, kafkajs retries reorder and duplicate messages (measured here: 5% of spans out of
 * their tree's order with 4 in flight), and a loop whose calls arrive shuffled is no loop.
 */
export const PRELOAD = Object.freeze({ batchSize: 5_000, inFlight: 1, idempotent: true });

/** Produces every message with acks=all; resolves with the wall time from first send to last ack. */
export async function produceRaw(brokers: string[], topic: string, messages: readonly EncodedSpan[], options: RawProduceOptions): Promise<{ elapsedMs: number; cpuMs: number }> {
  let send: (messages: Array<{ key: string; value: Buffer; partition: number }>) => Promise<void>;
  let disconnect: () => Promise<void>;
  if (options.via === 'wire') {
    const wire = createWireProducer({ brokers, clientId: 'bench-producer' });
    await wire.connect();
    send = (slice) => wire.send(topic, slice);
    disconnect = () => wire.close();
  } else {
    const producer: Producer = rawKafka(brokers, 'bench-producer').producer({
      allowAutoTopicCreation: false,
      idempotent: options.idempotent ?? false,
      ...(options.idempotent ? { maxInFlightRequests: 1 } : {}),
    });
    await producer.connect();
    send = async (slice) => { await producer.send({ topic, acks: -1, messages: slice }); };
    disconnect = () => producer.disconnect();
  }
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    let sent = 0;
    let lastReport = 0;
    // A fixed pool of senders, each taking the next slice: at most `inFlight` requests outstanding.
    const sender = async () => {
      while (next < messages.length) {
        const slice = messages.slice(next, next + options.batchSize);
        next += slice.length;
        await send(slice.map((m) => ({ key: m.key, value: m.value, partition: partitionForKey(m.key, options.partitions) })));
        sent += slice.length;
        if (options.onProgress && sent - lastReport >= messages.length / 4) {
          lastReport = sent;
          options.onProgress(sent);
        }
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, sender));
    const used = process.cpuUsage(cpu);
    return { elapsedMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await disconnect();
  }
}

/**
 * Visits every committed message on a topic, read from the beginning by a throwaway group.
 * Offsets cannot say how many to expect: the processor writes in transactions, whose commit
 * markers take offsets but are no messages. So the scan ends once the topic has been quiet for
 * `quietMs` after the group joined, which on a topic nobody writes to any more is its end.
 */
export async function scanTopic(brokers: string[], topic: string, visit: (message: LogMessage) => void, quietMs = 1_500): Promise<void> {
  const consumer = rawKafka(brokers, 'bench-reader').consumer({ groupId: `bench-reader-${randomUUID()}`, maxWaitTimeInMs: 100, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const joined = new Promise<void>((ok) => { const off = consumer.on(consumer.events.GROUP_JOIN, () => { off(); ok(); }); });
    let lastMessageAt = performance.now();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        lastMessageAt = performance.now();
        for (const m of batch.messages) {
          visit({ topic, partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? null, value: m.value, timestampMs: Number(m.timestamp), headers: {} });
        }
      },
    });
    await joined;
    lastMessageAt = Math.max(lastMessageAt, performance.now());
    while (performance.now() - lastMessageAt < quietMs) await new Promise((ok) => setTimeout(ok, 100));
  } finally {
    await consumer.disconnect();
  }
}

export async function readAll(brokers: string[], topic: string): Promise<LogMessage[]> {
  const messages: LogMessage[] = [];
  await scanTopic(brokers, topic, (m) => messages.push(m));
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
