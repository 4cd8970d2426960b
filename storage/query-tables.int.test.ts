/**
 * The query API's projections of spans (run_edges, runs, cost_ledger) on real chDB: exact under
 * redelivery, re-runnable migrations, and the reads the API builds on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../schemas/index.js';
import { loopTrip, seedSpans, seedTrips } from '../test/api.js';
import { span, toolCall } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import { loadMigrations, migrate } from './migrate.js';
import type { Store } from './store.js';
import { costReport } from './tables/cost-ledger.js';
import { insertControlAction, openBreakers } from './tables/control-actions.js';
import { isoTimeSql } from './tables/json-rows.js';
import { treeEdges } from './tables/run-edges.js';
import { findRun, listRuns } from './tables/runs.js';
import { runUsage } from './tables/span-reads.js';

const T0 = Date.UTC(2026, 2, 1); // 2026-03-01
const HOUR = 3_600_000;

describe('query tables (chDB)', () => {
  let store: Store;
  beforeAll(async () => { store = await freshStore(); });
  afterAll(async () => { await store.close(); });

  const sql = async <T>(query: string, params: Record<string, unknown> = {}) =>
    (await (await store.client.query({ query, query_params: params, format: 'JSONEachRow' })).json()) as T[];

  /** What finance would compute by hand: the spans table itself, each event once. */
  const spansTruth = async (tenant: string, fromMs: number, toMs: number) => {
    const [row] = await sql<{ cost: string; spans: string; input: string }>(
      `SELECT sum(ifNull(cost_micros, 0)) AS cost, count() AS spans, sum(input_tokens) AS input FROM spans FINAL
       WHERE tenant_id = {t:String} AND start_time >= fromUnixTimestamp64Milli({f:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`,
      { t: tenant, f: fromMs, to: toMs });
    return { cost: Number(row!.cost), spans: Number(row!.spans), input: Number(row!.input) };
  };

  it('creates the tables and views once; re-running every statement of 0100-0105 changes no answer', async () => {
    const names = (await sql<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase()')).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['run_edges', 'runs', 'cost_ledger', 'api_keys', 'access_log', 'control_actions',
      'run_edges_from_edge_spans', 'run_edges_from_parent_links', 'runs_from_spans', 'runs_from_breaker_events', 'cost_ledger_from_spans']));
    expect(await migrate(store.client)).toEqual([]);

    const tenant = 'rerun';
    await seedSpans(store, [
      span({ kind: 'run_start', name: 'a', tenantId: tenant, runId: 'rr-1', treeId: 'rr-1', startTimeMs: T0 }),
      span({ kind: 'spawn', name: 'b', tenantId: tenant, runId: 'rr-1', treeId: 'rr-1', startTimeMs: T0 + 1, edge: { kind: 'spawn', targetRunId: 'rr-2', targetTreeId: 'rr-1' } }),
      span({ kind: 'llm_call', name: 'm', tenantId: tenant, runId: 'rr-2', parentRunId: 'rr-1', treeId: 'rr-1', startTimeMs: T0 + 2, costMicros: 700, model: 'gpt-4o' }),
    ]);
    const before = { report: await costReport(store.client, { tenantId: tenant, fromMs: T0, toMs: T0 + HOUR, by: ['agent'], maxGroups: 10 }), run: await findRun(store.client, tenant, 'rr-2'), edges: await treeEdges(store.client, tenant, 'rr-1') };
    // The backfill INSERTs run again on top of what the views already wrote: everything collapses.
    for (const migration of loadMigrations().filter((m) => m.version >= 100 && m.version < 200)) {
      for (const statement of migration.statements) await store.client.command({ query: statement });
    }
    expect(await costReport(store.client, { tenantId: tenant, fromMs: T0, toMs: T0 + HOUR, by: ['agent'], maxGroups: 10 })).toEqual(before.report);
    expect(await findRun(store.client, tenant, 'rr-2')).toEqual(before.run);
    expect(await treeEdges(store.client, tenant, 'rr-1')).toEqual(before.edges);
    expect(before.report[0]!.usage).toMatchObject({ spans: 3, total_cost_micros: 700 });
  });

  describe('spans delivered more than once', () => {
    const tenant = 'dup';
    let events: SpanEvent[];

    beforeAll(async () => {
      events = [
        span({ kind: 'run_start', name: 'r', tenantId: tenant, runId: 'dup-1', treeId: 'dup-1', startTimeMs: T0 }),
        ...Array.from({ length: 6 }, (_, i) => span({ kind: 'llm_call', name: 'chat', tenantId: tenant, runId: 'dup-1', treeId: 'dup-1', startTimeMs: T0 + (i + 1) * HOUR, model: 'gpt-4o', costMicros: 1_000 * (i + 1), inputTokens: 100, userId: 'u-1' })),
        toolCall('search', 'h1', { status: 'error' }, { tenantId: tenant, runId: 'dup-1', treeId: 'dup-1', startTimeMs: T0 + 7 * HOUR }),
        span({ kind: 'llm_call', name: 'chat', tenantId: tenant, runId: 'dup-1', treeId: 'dup-1', startTimeMs: T0 + 8 * HOUR, model: 'mystery-1', costMicros: null }),
        span({ kind: 'run_end', name: 'r', tenantId: tenant, runId: 'dup-1', treeId: 'dup-1', status: 'ok', startTimeMs: T0 + 9 * HOUR }),
      ];
      await seedSpans(store, events, 'spans:0:0-9');
      await seedSpans(store, events, 'spans:0:0-9'); // the same batch again: the dedup token drops it
      await seedSpans(store, events.slice(3), 'spans:0:3-9'); // a re-read from offset 3: new token, rows land again
      for (const event of events.slice(5, 7)) await seedSpans(store, [event]); // and single redeliveries
    });

    it('the materialized views did receive the duplicates (which is why the rollups must be idempotent)', async () => {
      const [raw] = await sql<{ n: string }>('SELECT count() AS n FROM cost_ledger WHERE tenant_id = {t:String}', { t: tenant });
      expect(Number(raw!.n)).toBeGreaterThan(events.length);
    });

    it('cost report totals equal the sum of the spans covered, each once', async () => {
      const [totals] = await costReport(store.client, { tenantId: tenant, fromMs: T0, toMs: T0 + 24 * HOUR, by: [], maxGroups: 10 });
      const truth = await spansTruth(tenant, T0, T0 + 24 * HOUR);
      expect(totals!.usage).toEqual({ spans: 10, steps: 8, total_cost_micros: 21_000, unpriced_spans: 1, input_tokens: 600, output_tokens: 0, cached_tokens: 0 });
      expect(totals!.usage.total_cost_micros).toBe(truth.cost);
      expect(totals!.usage.spans).toBe(truth.spans);
    });

    it('a window cutting through a day covers exactly the spans that started in it', async () => {
      // [02:00, 05:00): the llm calls of hours 2, 3 and 4
      const [totals] = await costReport(store.client, { tenantId: tenant, fromMs: T0 + 2 * HOUR, toMs: T0 + 5 * HOUR, by: [], maxGroups: 10 });
      expect(totals!.usage).toMatchObject({ spans: 3, total_cost_micros: 2_000 + 3_000 + 4_000 });
      expect(totals!.usage.total_cost_micros).toBe((await spansTruth(tenant, T0 + 2 * HOUR, T0 + 5 * HOUR)).cost);
    });

    it('groups by model, with unpriced models counted, never priced at zero silently', async () => {
      const rows = await costReport(store.client, { tenantId: tenant, fromMs: T0, toMs: T0 + 24 * HOUR, by: ['model'], maxGroups: 10 });
      expect(rows.map((r) => [r.group.model, r.usage.spans, r.usage.total_cost_micros, r.usage.unpriced_spans])).toEqual([
        ['gpt-4o', 6, 21_000, 0],
        ['mystery-1', 1, 0, 1],
        [null, 3, 0, 0],
      ]);
    });

    it('the runs rollup counts spans, steps and errors once each; cost comes from spans FINAL', async () => {
      const run = await findRun(store.client, tenant, 'dup-1');
      expect(run).toMatchObject({ status: 'ok', spans: 10, steps: 8, errors: 1, trips: 0, first_ms: T0, last_ms: T0 + 9 * HOUR + 100 });
      const usage = await runUsage(store.client, tenant, [{ treeId: 'dup-1', runId: 'dup-1' }]);
      expect(usage.get('dup-1')).toMatchObject({ total_cost_micros: 21_000, spans: 10 });
    });
  });

  it('records each causal edge once: an explicit spawn span and the child\'s parent link are the same edge', async () => {
    const tenant = 'edges';
    const events = [
      span({ kind: 'run_start', name: 'root', tenantId: tenant, runId: 'e-root', treeId: 'e-root', startTimeMs: T0 }),
      span({ kind: 'spawn', name: 'kid', tenantId: tenant, runId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 1, edge: { kind: 'spawn', targetRunId: 'e-kid', targetTreeId: 'e-root' } }),
      span({ kind: 'run_start', name: 'kid', tenantId: tenant, runId: 'e-kid', parentRunId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 2 }),
      span({ kind: 'signal', name: 'ping', tenantId: tenant, runId: 'e-kid', parentRunId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 3, edge: { kind: 'signal_fire', targetRunId: 'e-root', targetTreeId: 'e-root' } }),
      span({ kind: 'custom', name: 'cb', tenantId: tenant, runId: 'e-kid', parentRunId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 4, edge: { kind: 'domain_callback', targetRunId: 'e-root', targetTreeId: null } }),
      span({ kind: 'custom', name: 'bridge', tenantId: tenant, runId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 5, edge: { kind: 'cross_session_bridge', targetRunId: 'other-run', targetTreeId: 'other-tree' } }),
      // a grandchild known only from its parent link (no spawn span: e.g. OTLP)
      span({ kind: 'run_start', name: 'grandkid', tenantId: tenant, runId: 'e-grandkid', parentRunId: 'e-kid', treeId: 'e-root', startTimeMs: T0 + 6 }),
    ];
    await seedSpans(store, events);
    await seedSpans(store, events.slice(1)); // redelivered
    const edges = await treeEdges(store.client, tenant, 'e-root');
    expect(edges.map((e) => [e.source_run_id, e.kind, e.target_run_id, e.event_id !== null])).toEqual([
      ['e-kid', 'spawn', 'e-grandkid', false],
      ['e-kid', 'domain_callback', 'e-root', true],
      ['e-kid', 'signal_fire', 'e-root', true],
      ['e-root', 'spawn', 'e-kid', true],
      ['e-root', 'cross_session_bridge', 'other-run', true],
    ]);
    expect(edges.find((e) => e.kind === 'cross_session_bridge')!.target_tree_id).toBe('other-tree');
    const spawn = edges.find((e) => e.kind === 'spawn' && e.target_run_id === 'e-kid')!;
    expect([spawn.event_id, spawn.time]).toEqual([events[1]!.eventId, new Date(events[1]!.endTimeMs).toISOString()]); // the spawn span's, not the parent link's

    // The same signal sent again later: still one edge, its span and time both the later one's.
    const again = span({ kind: 'signal', name: 'ping', tenantId: tenant, runId: 'e-kid', parentRunId: 'e-root', treeId: 'e-root', startTimeMs: T0 + 60_000, edge: { kind: 'signal_fire', targetRunId: 'e-root', targetTreeId: 'e-root' } });
    await seedSpans(store, [again]);
    const signals = (await treeEdges(store.client, tenant, 'e-root')).filter((e) => e.kind === 'signal_fire');
    expect(signals.map((e) => [e.event_id, e.time])).toEqual([[again.eventId, new Date(again.endTimeMs).toISOString()]]);
  });

  it('writes times as ISO 8601 in SQL exactly as Date.prototype.toISOString does', async () => {
    const times = [0, 1, 999, 1_000, 59_999, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 9, 11, 8, 0, 0, 5), Date.UTC(2299, 11, 31, 23, 59, 59, 999)];
    const result = await store.client.query({
      query: `SELECT ${isoTimeSql("fromUnixTimestamp64Milli(ms, 'UTC')")} AS iso FROM (SELECT arrayJoin({times:Array(Int64)}) AS ms) ORDER BY ms`,
      query_params: { times }, format: 'JSONEachRow',
    });
    expect((await result.json<{ iso: string }>()).map((row) => row.iso)).toEqual(times.map((ms) => new Date(ms).toISOString()));
  });

  it('lists runs newest first, filtered by agent, status, start time and trips, page by page', async () => {
    const tenant = 'list';
    const events: SpanEvent[] = [];
    for (let i = 0; i < 7; i++) {
      const runId = `l-${i}`;
      events.push(span({ kind: 'run_start', name: 'r', tenantId: tenant, agentId: i % 2 === 0 ? 'even' : 'odd', runId, treeId: runId, startTimeMs: T0 + i * HOUR }));
      if (i < 5) events.push(span({ kind: 'run_end', name: 'r', tenantId: tenant, agentId: i % 2 === 0 ? 'even' : 'odd', runId, treeId: runId, status: i === 1 ? 'error' : 'ok', startTimeMs: T0 + i * HOUR + 10 }));
    }
    await seedSpans(store, events);
    await seedTrips(store, [loopTrip({ eventId: 'trip-l3', tenantId: tenant, runId: 'l-3', treeId: 'l-3', agentId: 'odd' })]);

    const ids = async (filter: Parameters<typeof listRuns>[2], limit = 100) => (await listRuns(store.client, tenant, filter, { limit })).map((r) => r.run_id);
    expect(await ids({})).toEqual(['l-6', 'l-5', 'l-4', 'l-3', 'l-2', 'l-1', 'l-0']);
    expect(await ids({ agentId: 'odd' })).toEqual(['l-5', 'l-3', 'l-1']);
    expect(await ids({ status: 'running' })).toEqual(['l-6', 'l-5']);
    expect(await ids({ status: 'error' })).toEqual(['l-1']);
    expect(await ids({ tripped: true })).toEqual(['l-3']);
    expect(await ids({ tripped: false, agentId: 'odd' })).toEqual(['l-5', 'l-1']);
    expect(await ids({ fromMs: T0 + 2 * HOUR, toMs: T0 + 4 * HOUR })).toEqual(['l-3', 'l-2']);

    const seen: string[] = [];
    let after: { firstMs: number; runId: string } | undefined;
    for (;;) {
      const rows = await listRuns(store.client, tenant, {}, { limit: 3, after });
      seen.push(...rows.slice(0, 3).map((r) => r.run_id));
      if (rows.length <= 3) break;
      after = { firstMs: rows[2]!.first_ms, runId: rows[2]!.run_id };
    }
    expect(seen).toEqual(['l-6', 'l-5', 'l-4', 'l-3', 'l-2', 'l-1', 'l-0']);
  });

  it('a breaker is open while the newest of its trips and operator actions opens it', async () => {
    const tenant = 'open';
    await seedTrips(store, [loopTrip({ eventId: 'trip-o1', tenantId: tenant, runId: 'o-1', treeId: 'o-1', timeMs: T0 })]);
    const open = async () => (await openBreakers(store.client, tenant)).map((b) => `${b.scope}:${b.target}:${b.action}:${b.source}`);
    expect(await open()).toEqual(['run:o-1:trip:detector']);
    const action = { tenantId: tenant, scope: 'run', target: 'o-1', treeId: 'o-1', message: 'm', keyId: 'k' };
    await insertControlAction(store.client, { ...action, eventId: 'reset-1', action: 'reset', timeMs: T0 + 1 });
    expect(await open()).toEqual([]);
    await insertControlAction(store.client, { ...action, eventId: 'kill-1', action: 'kill', timeMs: T0 + 2 });
    await insertControlAction(store.client, { ...action, scope: 'agent', target: 'agent-9', treeId: null, eventId: 'kill-2', action: 'kill', timeMs: T0 + 3 });
    expect(await open()).toEqual(['agent:agent-9:kill:operator', 'run:o-1:kill:operator']);
    await seedTrips(store, [loopTrip({ eventId: 'trip-o2', tenantId: tenant, runId: 'o-1', treeId: 'o-1', timeMs: T0 + 2 })]);
    await insertControlAction(store.client, { ...action, eventId: 'reset-2', action: 'reset', timeMs: T0 + 2 }); // same millisecond as the trip: the reset wins
    expect(await open()).toEqual(['agent:agent-9:kill:operator']);
  });
});
