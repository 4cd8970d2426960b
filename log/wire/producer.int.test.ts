/**
 * Fusebox's own producer against the real broker: what it sends is what kafkajs reads back, in
 * order per partition; the broker's refusals come back named; an unreachable broker says so.
 * The broker validates every batch's CRC and layout, so a wrong byte fails here.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, readAll } from '../../test/kafka.js';
import { createKafkaLog } from '../kafka.js';
import type { EventLog } from '../port.js';
import { createWireProducer, KafkaProduceError, type WireProducer } from './producer.js';

describe('wire producer on the real broker', () => {
  let log: EventLog;
  let producer: WireProducer;

  beforeAll(async () => {
    log = createKafkaLog({ brokers: brokers(), clientId: 'wire-test' });
    producer = createWireProducer({ brokers: brokers(), clientId: 'wire-test', retries: 2, initialRetryMs: 50 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.close();
    await log?.close();
  });

  async function freshTopic(partitions: number): Promise<string> {
    const topic = `t-${randomUUID().slice(0, 8)}.wire`;
    await log.ensureTopics([{ topic, partitions }]);
    return topic;
  }

  it('lands keys, values, tombstones and headers on the partitions asked, in order, read back by kafkajs', async () => {
    const topic = await freshTopic(3);
    const sent = [
      { key: 'tree-a', value: Buffer.from('one'), partition: 0 },
      { key: 'trée-ü', value: Buffer.from('two'), partition: 2, headers: { reason: 'bad field', 'x-ü': 'ß' } },
      { key: 'tree-a', value: null, partition: 0 },
      { key: 'tree-b', value: Buffer.alloc(70_000, 9), partition: 1 },
      { key: 'tree-a', value: Buffer.from('three'), partition: 0 },
    ];
    await producer.send(topic, sent);
    await producer.send(topic, [{ key: 'tree-c', value: Buffer.from('four'), partition: 2 }]);
    const read = await readAll(log, topic);
    const byPartition = (p: number) => read.filter((m) => m.partition === p).map((m) => [m.key, m.value === null ? null : m.value.toString('base64'), m.headers]);
    expect(byPartition(0)).toEqual([['tree-a', Buffer.from('one').toString('base64'), {}], ['tree-a', null, {}], ['tree-a', Buffer.from('three').toString('base64'), {}]]);
    expect(byPartition(1)).toEqual([['tree-b', Buffer.alloc(70_000, 9).toString('base64'), {}]]);
    expect(byPartition(2)).toEqual([['trée-ü', Buffer.from('two').toString('base64'), { reason: 'bad field', 'x-ü': 'ß' }], ['tree-c', Buffer.from('four').toString('base64'), {}]]);
    expect(read.every((m) => Math.abs(m.timestampMs - Date.now()) < 60_000)).toBe(true);
  });

  it('lands concurrent sends exactly once each, and each send in order within its partition', async () => {
    const topic = await freshTopic(4);
    await Promise.all(Array.from({ length: 20 }, (_, s) => producer.send(topic, Array.from({ length: 50 }, (_, i) => ({ key: `s${s}`, value: Buffer.from(`${s}:${i}`), partition: (s + i) % 4 })))));
    const read = await readAll(log, topic);
    expect(read).toHaveLength(1_000);
    expect(new Set(read.map((m) => m.value!.toString())).size).toBe(1_000);
    for (let s = 0; s < 20; s++) {
      for (let p = 0; p < 4; p++) {
        const order = read.filter((m) => m.partition === p && m.key === `s${s}`).map((m) => Number(m.value!.toString().split(':')[1]));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    }
  });

  it('sends more than a broker takes in one batch as several, in order', async () => {
    const topic = await freshTopic(2);
    // 3 MB for partition 0: three times the broker's 1 MiB limit on a batch.
    const big = Array.from({ length: 300 }, (_, i) => ({ key: 'k', value: Buffer.alloc(10_000, i % 256), partition: 0 }));
    await producer.send(topic, [...big, { key: 'k', value: Buffer.from('small'), partition: 1 }]);
    const read = await readAll(log, topic);
    expect(read.filter((m) => m.partition === 0).map((m) => m.value![0])).toEqual(big.map((_, i) => i % 256));
    expect(read.filter((m) => m.partition === 1).map((m) => m.value!.toString())).toEqual(['small']);
  });

  it('names what the broker or the topic refuses, without retrying what cannot succeed', async () => {
    const topic = await freshTopic(2);
    await expect(producer.send(topic, [{ key: 'k', value: Buffer.from('x'), partition: 7 }])).rejects.toThrow(`topic '${topic}' has no partition 7 (it has 2)`);
    const tooLarge = producer.send(topic, [{ key: 'k', value: Buffer.alloc(2_000_000), partition: 0 }]);
    await expect(tooLarge).rejects.toThrow(/MESSAGE_TOO_LARGE/);
    await expect(tooLarge).rejects.toMatchObject({ retriable: false });
    const missing = producer.send(`t-${randomUUID().slice(0, 8)}.never-created`, [{ key: 'k', value: Buffer.from('x'), partition: 0 }]);
    await expect(missing).rejects.toThrow(/never-created.*UNKNOWN_TOPIC_OR_PARTITION.*ensureTopics/);
    await expect(missing).rejects.toBeInstanceOf(KafkaProduceError);
    // The producer goes on after its refusals.
    await producer.send(topic, [{ key: 'k', value: Buffer.from('fine'), partition: 1 }]);
    expect((await readAll(log, topic)).map((m) => m.value!.toString())).toEqual(['fine']);
  });

  it('says which brokers it could not reach', async () => {
    const nowhere = createWireProducer({ brokers: ['127.0.0.1:1'], clientId: 'wire-test', retries: 0 });
    await expect(nowhere.connect()).rejects.toThrow(/no broker of 127\.0\.0\.1:1 answered: .*ECONNREFUSED/);
    await expect(nowhere.send('any', [{ key: 'k', value: null, partition: 0 }])).rejects.toThrow(/not acknowledged \(1 attempts in a row landed nothing\): no broker of 127\.0\.0\.1:1 answered/);
    await nowhere.close();
  });
});
