/**
 * The sink on the real broker and chDB: batches of several partitions go to ClickHouse as one
 * insert, every span lands exactly once (also when a new consumer re-reads the topic and groups
 * the batches differently), and the daily cost rollup is kept current behind it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { spanEventCodec, type SpanEvent } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { costReport } from '../../storage/tables/cost-ledger.js';
import { eventually, freshKafka, readAll } from '../../test/kafka.js';
import { span } from '../../test/spans.js';
import { freshStore } from '../../test/store.js';
import { silentLogger } from '../logger.js';
import { createSink, type Sink } from './sink.js';

const PARTITIONS = 3;
const T0 = Date.UTC(2026, 5, 1); // 2026-06-01
const DAY = 86_400_000;

describe('sink (real Kafka, chDB)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  const sinks: Sink[] = [];
  const events: SpanEvent[] = [];

  const sql = async <T>(query: string, params: Record<string, unknown> = {}) =>
    (await (await store.client.query({ query, query_params: params, format: 'JSONEachRow' })).json()) as T[];
  const count = async (query: string) => Number((await sql<{ n: string }>(query))[0]!.n);

  beforeAll(async () => {
    ({ log, topics, prefix } = await freshKafka(PARTITIONS));
    store = await freshStore();
    // 60 trees over two days, two tenants; keyed by tree, so every partition holds some.
    for (let i = 0; i < 1_800; i++) {
      const tree = `sink-tree-${i % 60}`;
      events.push(span({ kind: 'llm_call', name: 'chat', tenantId: `sink-${i % 2}`, agentId: `agent-${i % 3}`, runId: tree, treeId: tree, startTimeMs: T0 + (i % 2) * DAY + i * 1_000, model: 'gpt-4o', costMicros: 100 + i, inputTokens: i }));
    }
    const producer = await log.producer();
    await producer.send(topics.spans, events.map((event) => ({ key: event.treeId, value: spanEventCodec.encode(event) })));
    await producer.close();
  });

  afterAll(async () => {
    await Promise.allSettled(sinks.map((sink) => sink.stop()));
    await log?.close();
    await store?.close();
  });

  function startSink(group: string, options: Partial<Parameters<typeof createSink>[0]> = {}): Promise<Sink> {
    const sink = createSink({ log, topics, store, logger: silentLogger, groupId: `${prefix}-${group}`, ...options });
    sinks.push(sink);
    return sink.start().then(() => sink);
  }

  it('given a backlog on every partition, then their batches share inserts and every span is stored once', async () => {
    const sink = await startSink('sink', { insertLingerMs: 300, costRollupEveryMs: 0 });
    await eventually('every span in ClickHouse', async () => sink.stats().spans >= events.length);
    expect(await count('SELECT count() AS n FROM spans')).toBe(events.length); // no row twice, even before merges
    // A fetch hands the sink one batch per partition at once: they go out together.
    expect(sink.stats().spanInserts).toBeLessThan(PARTITIONS);
    await sink.stop();
  });

  it('given a new consumer re-reading the topic, then spans and cost reports still count each span once', async () => {
    const reread = await startSink('reread', { insertLingerMs: 5, insertMaxRows: 250, costRollupEveryMs: 0 });
    await eventually('the re-read to finish', async () => reread.stats().spans >= events.length);
    expect(await count('SELECT count() AS n FROM spans FINAL')).toBe(events.length);
    const report = await costReport(store.client, { tenantId: 'sink-0', fromMs: T0, toMs: T0 + 2 * DAY, by: [], maxGroups: 1 });
    const mine = events.filter((e) => e.tenantId === 'sink-0');
    expect(report[0]!.usage).toMatchObject({ spans: mine.length, total_cost_micros: mine.reduce((sum, e) => sum + (e.costMicros ?? 0), 0) });
    await reread.stop();
  });

  it('keeps the daily cost rollup current behind the inserts', async () => {
    const sink = await startSink('rollups', { costRollupEveryMs: 100, costRollupQuietMs: 50 });
    await eventually('both days rolled up', async () => (await count("SELECT uniqExact(day) AS n FROM cost_daily_days WHERE day IN ('2026-06-01', '2026-06-02')")) === 2);
    const fromRollup = await sql<{ spans: string }>("SELECT sum(spans) AS spans FROM cost_daily WHERE tenant_id = 'sink-1' AND (day, refresh) IN (SELECT day, max(refresh) FROM cost_daily_days GROUP BY day)");
    expect(Number(fromRollup[0]!.spans)).toBe(events.filter((e) => e.tenantId === 'sink-1').length);
    await sink.stop();
  });
});

describe('sink commits (real Kafka, chDB)', () => {
  it('covers the batches stored while a commit is in flight with the next one, and ends at every partition\'s end', async () => {
    const { log, topics, prefix } = await freshKafka(PARTITIONS);
    const store = await freshStore();
    // The group coordinator made slow: each commit takes 300 ms, so batches pile up behind it.
    let batches = 0;
    let commits = 0;
    const slowCommits: EventLog = {
      ...log,
      groupConsumer: (options) => {
        const consumer = log.groupConsumer({ ...options, handleBatch: async (batch) => { batches += 1; await options.handleBatch(batch); } });
        return { ...consumer, commit: async (offsets) => { commits += 1; await new Promise((ok) => setTimeout(ok, 300)); await consumer.commit(offsets); } };
      },
    };
    const sink = createSink({ log: slowCommits, topics, store, logger: silentLogger, groupId: `${prefix}-sink`, insertLingerMs: 5, fetchMinBytes: 1, fetchMaxWaitMs: 10, costRollupEveryMs: 0 });
    try {
      await sink.start();
      const producer = await log.producer();
      for (let round = 0; round < 30; round++) {
        const spans = Array.from({ length: 12 }, (_, i) => span({ kind: 'tool_call', name: 'fetch', runId: `c-${i}`, treeId: `c-${i}`, startTimeMs: T0 + round * 100 + i }));
        await producer.send(topics.spans, spans.map((event) => ({ key: event.treeId, value: spanEventCodec.encode(event) })));
        await new Promise((ok) => setTimeout(ok, 20));
      }
      await producer.close();
      await eventually('every span stored', () => sink.stats().spans >= 360, 30_000);
      const ends = new Map<number, bigint>();
      for (const m of await readAll(log, topics.spans)) ends.set(m.partition, BigInt(m.offset) + 1n);
      await eventually('the group committed every partition to its end', async () => {
        const committed = await log.committedOffsets(`${prefix}-sink`, topics.spans);
        return [...ends].every(([partition, end]) => committed.get(partition) === end);
      }, 30_000);
      expect(batches).toBeGreaterThan(PARTITIONS * 3);
      expect(commits).toBeLessThan(batches / 2);
    } finally {
      await sink.stop();
      await log.close();
      await store.close();
    }
  }, 90_000);
});

describe('sink while ClickHouse refuses inserts (real Kafka, chDB)', () => {
  it('reads the refused batches again once inserts work and stores every span once', async () => {
    const { log, topics, prefix } = await freshKafka(PARTITIONS);
    const store = await freshStore();
    const sink = createSink({ log, topics, store, logger: silentLogger, groupId: `${prefix}-sink`, insertLingerMs: 5, costRollupEveryMs: 0 });
    const count = async () => Number(((await (await store.client.query({ query: 'SELECT count() AS n FROM spans FINAL', format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]!.n);
    const send = async (from: number, to: number) => {
      const spans = Array.from({ length: to - from }, (_, i) => span({ kind: 'tool_call', name: 'fetch', runId: `outage-${(from + i) % 30}`, treeId: `outage-${(from + i) % 30}`, startTimeMs: T0 + (from + i) * 1_000 }));
      const producer = await log.producer();
      await producer.send(topics.spans, spans.map((event) => ({ key: event.treeId, value: spanEventCodec.encode(event) })));
      await producer.close();
    };
    try {
      await sink.start();
      await send(0, 300);
      await eventually('the first spans stored', async () => (await count()) === 300);
      // The spans table goes away: every insert into it fails until it is back.
      await store.client.command({ query: 'RENAME TABLE spans TO spans_away' });
      await send(300, 600);
      await eventually('inserts refused', () => sink.stats().storeFailures > 0, 30_000);
      await new Promise((ok) => setTimeout(ok, 1_500));
      await store.client.command({ query: 'RENAME TABLE spans_away TO spans' });
      await eventually('every span stored once inserts work again', async () => (await count()) === 600, 60_000);
      expect(await count()).toBe(600);
    } finally {
      await sink.stop();
      await log.close();
      await store.close();
    }
  }, 120_000);
});
