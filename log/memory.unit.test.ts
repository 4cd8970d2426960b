import { describe, expect, it } from 'vitest';
import { createMemoryLog } from './memory.js';
import type { LogBatch, LogMessage } from './port.js';

const value = (text: string) => Buffer.from(text);

describe('in-memory event log', () => {
  it('keeps key order within a partition and resumes a group from its committed offset', async () => {
    const log = createMemoryLog();
    await log.ensureTopics([{ topic: 'spans', partitions: 3 }]);
    const producer = await log.producer();
    await producer.send('spans', ['1', '2', '3'].map((n) => ({ key: 'tree-a', value: value(n) })));

    const seen: string[] = [];
    const first = log.groupConsumer({ groupId: 'g', topics: ['spans'], fromBeginning: true, handleBatch: async (b: LogBatch) => { seen.push(...b.messages.map((m) => m.value!.toString())); } });
    await first.start();
    await new Promise((ok) => setTimeout(ok, 10));
    await first.stop();
    await producer.send('spans', [{ key: 'tree-a', value: value('4') }]);

    const second = log.groupConsumer({ groupId: 'g', topics: ['spans'], fromBeginning: true, handleBatch: async (b) => { seen.push(...b.messages.map((m) => m.value!.toString())); } });
    await second.start();
    await new Promise((ok) => setTimeout(ok, 10));
    await second.stop();
    expect(seen).toEqual(['1', '2', '3', '4']);
  });

  it('reads a partition back from a point in time, delivering it before follow() resolves', async () => {
    const log = createMemoryLog();
    await log.ensureTopics([{ topic: 'control', partitions: 1 }]);
    const producer = await log.producer();
    await producer.send('control', [{ key: 'k', value: value('old') }]);
    await new Promise((ok) => setTimeout(ok, 5));
    const since = Date.now();
    await producer.send('control', [{ key: 'k', value: value('recent') }]);
    const got: string[] = [];
    const reader = log.reader('control', (m: LogMessage) => got.push(m.value!.toString()));
    await reader.start();
    await reader.follow(0, { sinceMs: since });
    expect(got).toEqual(['recent']);
    const quiet: string[] = [];
    const later = log.reader('control', (m: LogMessage) => quiet.push(m.value!.toString()));
    await later.start();
    await later.follow(0, { sinceMs: Date.now() + 60_000 }); // nothing since: from the end
    await producer.send('control', [{ key: 'k', value: value('new') }]);
    await new Promise((ok) => setTimeout(ok, 5));
    expect(quiet).toEqual(['new']);
  });

  it('does not commit a batch whose handler threw, and reports the crash', async () => {
    const log = createMemoryLog();
    await log.ensureTopics([{ topic: 't', partitions: 1 }]);
    await (await log.producer()).send('t', [{ key: 'k', value: value('x') }]);
    const crashes: Error[] = [];
    const failing = log.groupConsumer({ groupId: 'g', topics: ['t'], fromBeginning: true, handleBatch: async () => { throw new Error('boom'); }, onCrash: (e) => crashes.push(e) });
    await failing.start();
    await new Promise((ok) => setTimeout(ok, 10));
    await failing.stop();
    expect(crashes.map((e) => e.message)).toEqual(['boom']);
    const again: string[] = [];
    const retry = log.groupConsumer({ groupId: 'g', topics: ['t'], fromBeginning: true, handleBatch: async (b) => { again.push(...b.messages.map((m) => m.value!.toString())); } });
    await retry.start();
    await new Promise((ok) => setTimeout(ok, 10));
    await retry.stop();
    expect(again).toEqual(['x']);
  });

  it('tails only followed partitions, from their end', async () => {
    const log = createMemoryLog();
    await log.ensureTopics([{ topic: 'control', partitions: 4 }]);
    const producer = await log.producer();
    await producer.send('control', [{ key: 'tree-1', value: value('before') }]);
    const got: LogMessage[] = [];
    const tail = log.reader('control', (m) => got.push(m));
    await tail.start();
    const { partitionForKey } = await import('./partitioner.js');
    await tail.follow(partitionForKey('tree-1', 4));
    const other = ['tree-2', 'tree-3', 'tree-4', 'tree-5'].find((k) => partitionForKey(k, 4) !== partitionForKey('tree-1', 4))!;
    await producer.send('control', [{ key: 'tree-1', value: value('after') }, { key: other, value: value('elsewhere') }]);
    await tail.stop();
    expect(got.map((m) => m.value!.toString())).toEqual(['after']);
  });
});
