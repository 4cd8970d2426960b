/**
 * Fusebox's own transactional producer against the real broker, read back by kafkajs's
 * read_committed consumer (an independent reader): committed transactions appear whole and in
 * order, aborted ones never; a second producer with the same id fences the first and aborts
 * what it left open; a transaction over a megabyte per partition lands as several batches with
 * their sequence numbers in order.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, endOffsets, readAll } from '../../test/kafka.js';
import { createKafkaLog } from '../kafka.js';
import type { EventLog } from '../port.js';
import { KafkaProduceError } from './producer.js';
import { createWireTransactionalProducer, type TxnMessage, type WireTransactionalProducer } from './transactional-producer.js';

describe('wire transactional producer on the real broker', () => {
  let log: EventLog;
  const producers: WireTransactionalProducer[] = [];

  beforeAll(() => {
    log = createKafkaLog({ brokers: brokers(), clientId: 'wire-txn-test' });
  });

  afterAll(async () => {
    await Promise.all(producers.map((p) => p.close()));
    await log?.close();
  });

  async function freshTopic(partitions: number): Promise<string> {
    const topic = `t-${randomUUID().slice(0, 8)}.wire-txn`;
    await log.ensureTopics([{ topic, partitions }]);
    return topic;
  }

  async function producer(transactionalId: string): Promise<WireTransactionalProducer> {
    const created = createWireTransactionalProducer({ brokers: brokers(), clientId: 'wire-txn-test', transactionalId, retries: 10 });
    producers.push(created);
    await created.init();
    return created;
  }

  const messages = (prefix: string, n: number, partitions: number): TxnMessage[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`${prefix}${i}`), partition: i % partitions }));
  const values = (read: Awaited<ReturnType<typeof readAll>>) => read.map((m) => m.value!.toString());

  it('makes committed transactions visible whole and in order, aborted ones never, across topics and partitions', async () => {
    const [a, b] = [await freshTopic(3), await freshTopic(1)];
    const p = await producer(`${a}.id`);
    const first = await p.begin();
    await first.send([[a, messages('c', 30, 3)], [b, messages('c', 5, 1)]]);
    await first.send([[a, messages('d', 3, 3)]]); // a second send to partitions already added
    await first.commit();
    const aborted = await p.begin();
    await aborted.send([[a, messages('x', 9, 3)], [b, messages('x', 2, 1)]]);
    await aborted.abort();
    const empty = await p.begin();
    await empty.commit(); // wrote nothing: nothing to end
    const last = await p.begin();
    await last.send([[b, messages('e', 2, 1)]]);
    await last.commit();

    const readA = await readAll(log, a);
    expect(readA).toHaveLength(33);
    for (let partition = 0; partition < 3; partition++) {
      const expected = [...messages('c', 30, 3), ...messages('d', 3, 3)].filter((m) => m.partition === partition).map((m) => m.value!.toString());
      expect(values(readA.filter((m) => m.partition === partition))).toEqual(expected);
    }
    expect(values(await readAll(log, b))).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'e0', 'e1']);
  });

  it('is fenced by a newer producer with the same id, whose start aborts the open transaction', async () => {
    const topic = await freshTopic(2);
    const id = `${topic}.id`;
    const old = await producer(id);
    const open = await old.begin();
    await open.send([[topic, messages('zombie', 4, 2)]]);
    const successor = await producer(id); // fences `old`, aborting its open transaction
    const mine = await successor.begin();
    await mine.send([[topic, messages('new', 2, 2)]]);
    await mine.commit();

    const refused = open.commit();
    await expect(refused).rejects.toBeInstanceOf(KafkaProduceError);
    await expect(refused).rejects.toMatchObject({ retriable: false });
    await expect(old.begin()).rejects.toThrow(/INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/);
    expect(values(await readAll(log, topic)).sort()).toEqual(['new0', 'new1']);
  });

  it('holds back every later commit of a partition while an earlier transaction there is open; the tests\' readAll waits for it rather than miss them', async () => {
    const topic = await freshTopic(1);
    const open = await (await producer(`${topic}.first`)).begin();
    await open.send([[topic, messages('first', 2, 1)]]);
    const later = await (await producer(`${topic}.second`)).begin();
    await later.send([[topic, messages('second', 2, 1)]]);
    await later.commit(); // committed, yet behind the open transaction for every read_committed reader
    const { high, stable } = (await endOffsets(topic))[0]!;
    expect(stable).toBe(0n); // nothing readable yet
    expect(high).toBeGreaterThanOrEqual(4n); // 4 records (the commit marker follows the commit's answer, not before it)
    await expect(readAll(log, topic, { settleMs: 500 })).rejects.toThrow(/partition 0 stable at 0 of [45]/);
    await open.commit();
    expect(values(await readAll(log, topic))).toEqual(['first0', 'first1', 'second0', 'second1']);
  });

  it('lands over a megabyte for one partition as several batches in one transaction, in order', async () => {
    const topic = await freshTopic(1);
    const p = await producer(`${topic}.id`);
    const big = Array.from({ length: 300 }, (_, i) => ({ key: 'tree', value: Buffer.alloc(10_000, i % 251), partition: 0 }));
    for (let round = 0; round < 2; round++) { // the second round's sequence numbers go on from the first's
      const txn = await p.begin();
      await txn.send([[topic, big]]);
      await txn.commit();
    }
    const read = await readAll(log, topic);
    expect(read).toHaveLength(600);
    expect(read.map((m) => m.value![0])).toEqual([...big, ...big].map((m) => m.value[0]));
  });
});
