/**
 * The Kafka log's consumers across broker trouble. kafkajs restarts a crashed consumer only on
 * a retriable error; these tests hold the log to going on after the others too, and to a
 * restarted reader missing nothing that arrived while it was away.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBroker } from '../scripts/kafka/broker.js';
import { eventually } from '../test/kafka.js';
import { createKafkaLog } from './kafka.js';
import type { EventLog } from './port.js';

describe('Kafka log consumers across broker errors (a broker of its own)', () => {
  let broker: KafkaBroker;
  let log: EventLog;
  const lines: string[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker({ defaultPartitions: 1 });
    log = createKafkaLog({ brokers: [broker.brokers], clientId: 'log-outage', log: (line) => lines.push(line) });
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await broker?.stop();
  }, 60_000);

  // kafkajs's own fetching crashes the consumer on a handler's error and the log restarts it;
  // Fusebox's fetcher (the default) hands the batch to the handler again after a backoff.
  it.each([
    ['wire', 'is handled again after a backoff'],
    ['kafkajs', 'stopped on an error kafkajs does not recover from'],
  ] as const)('a group consumer fetching with %s goes on after a handler error kafkajs would give up on, and re-reads the uncommitted batch', async (fetcher, logged) => {
    const topic = `t-${randomUUID().slice(0, 8)}.giveup-${fetcher}`;
    const log = createKafkaLog({ brokers: [broker.brokers], clientId: 'log-outage', log: (line) => lines.push(line), fetcher });
    await log.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await log.producer();
    await producer.send(topic, [{ key: 'k', value: Buffer.from('one') }]);

    // A non-retriable error, as kafkajs's client throws after an outage outlasting its retries:
    // kafkajs itself would leave this consumer stopped.
    const seen: string[] = [];
    const crashes: string[] = [];
    let failures = 1;
    const consumer = log.groupConsumer({
      groupId: `${topic}.g`, topics: [topic], fromBeginning: true,
      handleBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value!.toString()));
        if (failures-- > 0) throw Object.assign(new Error('Failed to find group coordinator'), { retriable: false });
      },
      onCrash: (error) => crashes.push(error.message),
    });
    await consumer.start();
    await eventually('the batch read again after the restart', () => seen.length === 2, 30_000);
    await producer.send(topic, [{ key: 'k', value: Buffer.from('two') }]);
    await eventually('the next message', () => seen.includes('two'), 30_000);
    await consumer.stop();
    await producer.close();
    expect(seen).toEqual(['one', 'one', 'two']);
    expect(crashes).toEqual(['Failed to find group coordinator']);
    expect(lines.some((line) => line.includes(`consumer ${topic}.g`) && line.includes(logged))).toBe(true);
    await log.close();
  }, 90_000);

  it('a reader and a group consumer go on after the broker was away, and the reader misses nothing produced meanwhile', async () => {
    const topic = `t-${randomUUID().slice(0, 8)}.outage`;
    await log.ensureTopics([{ topic, partitions: 1 }]);
    const read: string[] = [];
    const reader = log.reader(topic, (m) => read.push(m.value!.toString()));
    await reader.start();
    await reader.follow(0);
    const consumed: string[] = [];
    const consumer = log.groupConsumer({ groupId: `${topic}.g`, topics: [topic], fromBeginning: true, handleBatch: async (b) => { consumed.push(...b.messages.map((m) => m.value!.toString())); } });
    await consumer.start();

    const producer = await log.producer();
    await producer.send(topic, [{ key: 'k', value: Buffer.from('before') }]);
    await eventually('the message before the outage', () => read.length === 1 && consumed.length === 1, 30_000);

    // Long enough for every client to give up its retries at least once. A send made while
    // the broker is away is retried by the producer (its connection died) until it lands.
    await broker.halt();
    const during = producer.send(topic, [{ key: 'k', value: Buffer.from('during') }]);
    await new Promise((ok) => setTimeout(ok, 6_000));
    await broker.restart();
    await during;
    // Produced at once: the consumers are still waiting out their backoff, not yet rejoined.
    const after = Array.from({ length: 20 }, (_, i) => `after-${i}`);
    for (const value of after) await producer.send(topic, [{ key: 'k', value: Buffer.from(value) }]);
    await producer.close();

    await eventually('every message after the outage, read and consumed', () => read.length >= 22 && consumed.length >= 22, 90_000);
    await reader.stop();
    await consumer.stop();
    expect(read).toEqual(['before', 'during', ...after]);
    expect(consumed).toEqual(['before', 'during', ...after]);
  }, 180_000);
});
