/**
 * Fusebox's fetcher against the real broker, where its lanes matter: a partition assigned or
 * sought while a long poll is out for the others is fetched without waiting for that poll, and
 * one sought while it was in that poll is not left behind when the poll returns.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, eventually } from '../../test/kafka.js';
import { createKafkaLog } from '../kafka.js';
import type { EventLog, LogBatch } from '../port.js';
import { createWireFetcher, type WireFetcher } from './fetcher.js';

/** Long enough that anything answered well before it was not waiting behind the poll. */
const LONG_POLL_MS = 5_000;

describe('wire fetcher on the real broker', () => {
  let log: EventLog;
  const fetchers: WireFetcher[] = [];

  beforeAll(() => {
    log = createKafkaLog({ brokers: brokers(), clientId: 'fetcher-test' });
  });

  afterAll(async () => {
    await Promise.all(fetchers.map((f) => f.stop()));
    await log?.close();
  });

  /** A fetcher reading `partitions` of a fresh topic (3 records in partition 0, 2 in 1), caught up and long-polling. */
  async function setUp(partitions: number[]): Promise<{ topic: string; got: string[]; fetcher: WireFetcher }> {
    const topic = `t-${randomUUID().slice(0, 8)}.fetcher`;
    await log.ensureTopics([{ topic, partitions: 2 }]);
    const producer = await log.producer();
    await producer.send(topic, ['a0', 'a1', 'a2'].map((v) => ({ key: 'k', value: Buffer.from(v), partition: 0 })));
    await producer.send(topic, ['b0', 'b1'].map((v) => ({ key: 'k', value: Buffer.from(v), partition: 1 })));
    await producer.close();
    const got: string[] = [];
    const fetcher = createWireFetcher({
      brokers: brokers(), clientId: 'fetcher-test', maxWaitMs: LONG_POLL_MS, log: () => {},
      onBatch: (batch: LogBatch) => { got.push(...batch.messages.map((m) => m.value!.toString())); },
    });
    fetchers.push(fetcher);
    await fetcher.start();
    for (const partition of partitions) fetcher.assign(topic, partition, 0n);
    const expected = partitions.reduce((n, p) => n + (p === 0 ? 3 : 2), 0);
    await eventually('the assigned partitions read', () => got.length === expected, 5_000);
    await new Promise((ok) => setTimeout(ok, 200)); // now in a long poll
    return { topic, got, fetcher };
  }

  it('fetches a partition assigned during a long poll at once, not after it', async () => {
    const { topic, got, fetcher } = await setUp([0]);
    const assignedAt = Date.now();
    fetcher.assign(topic, 1, 0n);
    await eventually('partition 1 read', () => got.includes('b1'), LONG_POLL_MS);
    expect(Date.now() - assignedAt).toBeLessThan(LONG_POLL_MS / 2);
    expect(got).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
  });

  it('reads a partition again from where it is sought, also when the seek came during the long poll of it and another', async () => {
    const { topic, got, fetcher } = await setUp([0, 1]);
    // The poll is out for both: its answer for 0 is dropped, and 1 keeps that lane's loop going.
    fetcher.seek(topic, 0, 1n);
    await eventually('partition 0 read again from offset 1', () => got.length === 7, LONG_POLL_MS * 2);
    expect(got.slice(5)).toEqual(['a1', 'a2']);
  });
});
