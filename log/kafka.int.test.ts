import { afterAll, describe, expect, it } from 'vitest';
import { brokers, eventually, freshKafka } from '../test/kafka.js';
import { createKafkaLog } from './kafka.js';
import { AssignerProtocol, Kafka, logLevel } from './kafkajs.js';
import { partitionForKey } from './partitioner.js';
import type { EventLog, LogMessage } from './port.js';

describe('Kafka event log (real broker)', () => {
  const logs: EventLog[] = [];
  afterAll(async () => { await Promise.all(logs.map((l) => l.close())); });

  it('produces to the partition the key hashes to and commits group offsets after the handler', async () => {
    const { log, topics } = await freshKafka(3);
    logs.push(log);
    const producer = await log.producer();
    const keys = ['tree-a', 'tree-b', 'tree-c', 'tree-d'];
    await producer.send(topics.spans, keys.map((key) => ({ key, value: Buffer.from(key) })));

    const seen: LogMessage[] = [];
    const consumer = log.groupConsumer({ groupId: 'g1', topics: [topics.spans], fromBeginning: true, handleBatch: async (b) => { seen.push(...b.messages); } });
    await consumer.start();
    await eventually('4 messages', () => seen.length === 4);
    await consumer.stop();
    for (const m of seen) expect(m.partition).toBe(partitionForKey(m.key!, 3));

    // A new member of the same group starts after the committed offsets: nothing is re-read.
    await producer.send(topics.spans, [{ key: 'tree-a', value: Buffer.from('late') }]);
    const again: string[] = [];
    const second = log.groupConsumer({ groupId: 'g1', topics: [topics.spans], fromBeginning: true, handleBatch: async (b) => { again.push(...b.messages.map((m) => m.value!.toString())); } });
    await second.start();
    await eventually('the late message', () => again.length === 1);
    await second.stop();
    expect(again).toEqual(['late']);
  });

  it('tails only the partitions it follows, from their end', async () => {
    const { log, topics } = await freshKafka(3);
    logs.push(log);
    const producer = await log.producer();
    const mine = 'tree-mine';
    const other = ['tree-1', 'tree-2', 'tree-3', 'tree-4', 'tree-5'].find((k) => partitionForKey(k, 3) !== partitionForKey(mine, 3))!;
    await producer.send(topics.control, [{ key: mine, value: Buffer.from('old') }]);

    const got: string[] = [];
    const tail = log.reader(topics.control, (m) => got.push(m.value!.toString()));
    await tail.start();
    await tail.follow(partitionForKey(mine, 3));
    await producer.send(topics.control, [{ key: other, value: Buffer.from('not mine') }, { key: mine, value: Buffer.from('new') }]);
    await eventually('the followed message', () => got.includes('new'));
    await new Promise((ok) => setTimeout(ok, 300));
    await tail.stop();
    expect(got).toEqual(['new']);
  });

  it.each(['wire', 'kafkajs'] as const)('reads a partition back from a point in time with the %s fetcher, and resolves once it has everything up to the end', async (fetcher) => {
    const { topics } = await freshKafka(1);
    const log = createKafkaLog({ brokers: brokers(), clientId: 'since-reader', fetcher });
    logs.push(log);
    const producer = await log.producer();
    await producer.send(topics.control, [{ key: 'k', value: Buffer.from('an hour ago, as far as this reader cares') }]);
    await new Promise((ok) => setTimeout(ok, 50));
    const since = Date.now();
    await new Promise((ok) => setTimeout(ok, 50));
    await producer.send(topics.control, [{ key: 'k', value: Buffer.from('recent 1') }, { key: 'k', value: Buffer.from('recent 2') }]);
    const got: string[] = [];
    const reader = log.reader(topics.control, (m) => got.push(m.value!.toString()));
    await reader.start();
    await reader.follow(0, { sinceMs: since });
    expect(got).toEqual(['recent 1', 'recent 2']); // delivered before follow() resolved
    await producer.send(topics.control, [{ key: 'k', value: Buffer.from('later') }]);
    await eventually('a record after the follow', () => got.includes('later'));
    // Nothing stamped since: it starts at the end, at once.
    const none: string[] = [];
    const quiet = log.reader(topics.control, (m) => none.push(m.value!.toString()));
    await quiet.start();
    await quiet.follow(0, { sinceMs: Date.now() + 60_000 });
    expect(none).toEqual([]);
    await Promise.all([reader.stop(), quiet.stop()]);
  });

  // Fusebox's fetcher (default) reads without any consumer group; kafkajs's readers share one private group.
  it.each(['wire', 'kafkajs'] as const)('shares one %s fetch loop among readers of the topics named up front, each hearing only its own, and one stopping leaves the others reading', async (fetcher) => {
    const { topics } = await freshKafka(3);
    const log = createKafkaLog({ brokers: brokers(), clientId: 'shared-readers', sharedReaderTopics: [topics.control, topics.controlEarly, topics.policies], fetcher });
    logs.push(log);
    const producer = await log.producer();
    await producer.send(topics.policies, [{ key: 'p1', value: Buffer.from('policy before') }]);

    const got: string[] = [];
    let contacts = 0;
    const control = log.reader(topics.control, (m) => got.push(`control ${m.partition} ${m.value}`), { onContact: () => { contacts += 1; } });
    const early = log.reader(topics.controlEarly, (m) => got.push(`early ${m.partition} ${m.value}`));
    await Promise.all([control.start(), early.start()]);
    const policies = log.reader(topics.policies, (m) => got.push(`policies ${m.value}`));
    await policies.start(); // after the consumer runs: its topic was subscribed from the start
    await control.follow(1);
    await early.follow(2);
    await policies.follow(0, 'beginning');
    expect(got).toEqual(['policies policy before']);
    await producer.send(topics.control, [0, 1, 2].map((partition) => ({ key: 'k', value: Buffer.from(`c${partition}`), partition })));
    await producer.send(topics.controlEarly, [0, 1, 2].map((partition) => ({ key: 'k', value: Buffer.from(`e${partition}`), partition })));
    await eventually('both followed partitions', () => got.includes('control 1 c1') && got.includes('early 2 e2'));
    await eventually('a fetch answer or heartbeat reported as contact', () => contacts > 0, 10_000);
    // kafkajs: one private group subscribed to all three topics, one consumer, not three; wire: no group.
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const readerGroups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith('fusebox-reader-'));
      const subscriptions = (await admin.describeGroups(readerGroups)).groups.flatMap((g) => g.members.map((m) => AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? []));
      const mine = subscriptions.filter((t) => t.includes(topics.control) || t.includes(topics.controlEarly) || t.includes(topics.policies));
      expect(mine.map((t) => [...t].sort())).toEqual(fetcher === 'kafkajs' ? [[topics.control, topics.controlEarly, topics.policies].sort()] : []);
    } finally {
      await admin.disconnect();
    }

    await control.stop();
    await producer.send(topics.controlEarly, [{ key: 'k', value: Buffer.from('after'), partition: 2 }]);
    await producer.send(topics.control, [{ key: 'k', value: Buffer.from('unheard'), partition: 1 }]);
    await eventually('the early reader goes on after the control reader stopped', () => got.includes('early 2 after'));
    await new Promise((ok) => setTimeout(ok, 300));
    await Promise.all([early.stop(), policies.stop()]);
    expect(got.sort()).toEqual(['control 1 c1', 'early 2 after', 'early 2 e2', 'policies policy before']);
  });

  it('hides aborted transactions from a consumer that starts anywhere in them (kafkajs 2.2.4 leaked them: see kafkajs-read-committed.ts)', async () => {
    const { log, topics, prefix } = await freshKafka(1);
    logs.push(log);
    // Two writers interleave in one partition and both abort: x1 y1 x2 y2 <abort> <abort> z.
    const [a, b] = await Promise.all([log.transactionalProducer(`${prefix}.a`), log.transactionalProducer(`${prefix}.b`)]);
    const [ta, tb] = [await a.begin(), await b.begin()];
    const one = (value: string) => [{ key: 'k', value: Buffer.from(value) }];
    await ta.send(topics.audit, one('x1'));
    await tb.send(topics.audit, one('y1'));
    await ta.send(topics.audit, one('x2'));
    await tb.send(topics.audit, one('y2'));
    await ta.abort();
    await tb.abort();
    await Promise.all([a.close(), b.close()]);
    const plain = await log.producer();
    await plain.send(topics.audit, one('z'));
    await plain.close();

    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const seenFrom: Record<number, string[]> = {};
    try {
      // A group resuming from each offset in turn, as after a restart or a rebalance.
      for (let start = 0; start <= 4; start++) {
        const groupId = `${prefix}.from-${start}`;
        await admin.setOffsets({ groupId, topic: topics.audit, partitions: [{ partition: 0, offset: String(start) }] });
        const seen: string[] = [];
        const consumer = log.groupConsumer({ groupId, topics: [topics.audit], fromBeginning: true, handleBatch: async (batch) => { seen.push(...batch.messages.map((m) => m.value!.toString())); } });
        await consumer.start();
        await eventually('the committed message', () => seen.includes('z'));
        await consumer.stop();
        seenFrom[start] = seen;
      }
    } finally {
      await admin.disconnect();
    }
    expect(seenFrom).toEqual({ 0: ['z'], 1: ['z'], 2: ['z'], 3: ['z'], 4: ['z'] });
  }, 60_000);
});
