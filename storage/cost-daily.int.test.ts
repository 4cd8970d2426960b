import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../schemas/index.js';
import { seedSpans } from '../test/api.js';
import { span } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import type { Store } from './store.js';
import { refreshCostDaily } from './tables/cost-daily.js';
import { costReport, type CostReportParams } from './tables/cost-ledger.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 4, 1); // 2026-05-01
const QUIET = { quietMs: 50, now: () => Date.now() };

describe('daily cost rollup (chDB)', () => {
  let store: Store;
  beforeAll(async () => { store = await freshStore(); });
  afterAll(async () => { await store.close(); });

  const sql = async <T>(query: string, params: Record<string, unknown> = {}) =>
    (await (await store.client.query({ query, query_params: params, format: 'JSONEachRow' })).json()) as T[];

  /** The truth: spans FINAL, each event once, grouped by agent and model. */
  const truth = async (tenant: string, fromMs: number, toMs: number) =>
    (await sql<{ agent: string; model: string | null; spans: string; cost: string; input: string }>(
      `SELECT agent_id AS agent, model, count() AS spans, sum(ifNull(cost_micros, 0)) AS cost, sum(input_tokens) AS input FROM spans FINAL
       WHERE tenant_id = {t:String} AND start_time >= fromUnixTimestamp64Milli({f:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
       GROUP BY agent, model ORDER BY agent, model`, { t: tenant, f: fromMs, to: toMs }))
      .map((r) => [r.agent, r.model, Number(r.spans), Number(r.cost), Number(r.input)]);

  const report = async (params: Omit<CostReportParams, 'maxGroups' | 'by'> & { by?: CostReportParams['by'] }) =>
    (await costReport(store.client, { by: ['agent', 'model'], maxGroups: 1000, ...params }))
      .map((r) => [r.group.agent, r.group.model, r.usage.spans, r.usage.total_cost_micros, r.usage.input_tokens]);

  /** Three days of model and tool calls by two agents: the first six hours of each day, so hour 12 splits a day. */
  const threeDays = (tenant: string): SpanEvent[] =>
    Array.from({ length: 36 }, (_, i) => {
      const tool = i % 4 === 3;
      return span({
        kind: tool ? 'tool_call' : 'llm_call', name: tool ? 'search' : 'chat', tenantId: tenant, agentId: `agent-${i % 2}`,
        runId: `${tenant}-run-${i % 6}`, treeId: `${tenant}-tree`, startTimeMs: T0 + Math.floor(i / 12) * DAY + (i % 12) * 1_800_000,
        model: tool ? null : i % 3 === 0 ? 'gpt-4o' : 'claude-sonnet-4', costMicros: tool ? null : 1_000 + i * 7, inputTokens: tool ? 0 : 100 + i,
      });
    });

  it('given settled days, when refreshed, then a report takes them from the rollup and equals the spans exactly, redelivered spans included', async () => {
    const tenant = 'roll-a';
    const events = threeDays(tenant);
    await seedSpans(store, events);
    await seedSpans(store, events.slice(5, 20)); // redelivered in a batch of other bounds
    const result = await refreshCostDaily(store.client, QUIET);
    expect(result.refreshed).toEqual(expect.arrayContaining(['2026-05-01', '2026-05-02', '2026-05-03']));
    const range = { tenantId: tenant, fromMs: T0, toMs: T0 + 3 * DAY };
    expect(await report(range)).toEqual(await truth(tenant, range.fromMs, range.toMs));
    expect((await sql<{ n: string }>(`SELECT count() AS n FROM cost_daily WHERE tenant_id = {t:String}`, { t: tenant }))[0]!.n).not.toBe('0');
  });

  it('reads the rollup for whole current days (a row planted in it shows), and the ledger again once a day is written to', async () => {
    const tenant = 'roll-b';
    await seedSpans(store, threeDays(tenant));
    await refreshCostDaily(store.client, QUIET);
    const range = { tenantId: tenant, fromMs: T0, toMs: T0 + 3 * DAY };
    const exact = await report(range);
    // Plant a row in the current refresh of the second day: proof the report reads the rollup.
    const [current] = await sql<{ refresh: string }>(`SELECT max(refresh) AS refresh FROM cost_daily_days WHERE day = '2026-05-02'`);
    await store.client.insert({ table: 'cost_daily', format: 'JSONEachRow', values: [{ tenant_id: tenant, day: '2026-05-02', refresh: current!.refresh, agent_id: 'planted', model: null, provider: null, spans: 1, steps: 1, cost_micros: 999, unpriced_spans: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0 }] });
    expect(await report(range)).toEqual([...exact, ['planted', null, 1, 999, 0]].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))));

    // A late span on that day: its rollup is stale, so the day comes from the ledger (no planted row), exactly.
    await seedSpans(store, [span({ kind: 'llm_call', name: 'late', tenantId: tenant, agentId: 'agent-0', runId: `${tenant}-late`, treeId: `${tenant}-tree`, startTimeMs: T0 + DAY + 5, model: 'gpt-4o', costMicros: 50_000, inputTokens: 7 })]);
    const afterLate = await report(range);
    expect(afterLate).toEqual(await truth(tenant, range.fromMs, range.toMs));
    expect(afterLate.some((row) => row[0] === 'planted')).toBe(false);

    // Refreshed again: from the rollup once more, still exact.
    expect((await refreshCostDaily(store.client, QUIET)).refreshed).toContain('2026-05-02');
    expect(await report(range)).toEqual(afterLate);
  });

  it('cuts partial first and last days from the ledger: a range from noon to noon is exact', async () => {
    const tenant = 'roll-c';
    await seedSpans(store, threeDays(tenant));
    await refreshCostDaily(store.client, QUIET);
    const range = { tenantId: tenant, fromMs: T0 + 3 * 3_600_000, toMs: T0 + 2 * DAY + 3 * 3_600_000 };
    expect(await report(range)).toEqual(await truth(tenant, range.fromMs, range.toMs));
    const byDay = await costReport(store.client, { ...range, by: ['day'], maxGroups: 10 });
    expect(byDay.map((r) => [r.group.day, r.usage.spans])).toEqual([['2026-05-01', 6], ['2026-05-02', 12], ['2026-05-03', 6]]);
  });

  it('never counts a span twice: a whole replay after the refresh leaves every report equal to the spans', async () => {
    const tenant = 'roll-d';
    const events = threeDays(tenant);
    await seedSpans(store, events);
    await refreshCostDaily(store.client, QUIET);
    await seedSpans(store, events); // a new consumer re-reading the topic: new dedup token, same events
    const range = { tenantId: tenant, fromMs: T0, toMs: T0 + 3 * DAY };
    expect(await report(range)).toEqual(await truth(tenant, range.fromMs, range.toMs));
    await refreshCostDaily(store.client, QUIET);
    expect(await report(range)).toEqual(await truth(tenant, range.fromMs, range.toMs));
    expect(await report({ ...range, by: [] })).toEqual([[undefined, undefined, 36, expect.any(Number), expect.any(Number)]]);
  });

  it('leaves a day that is written to while it looks for the next refresh', async () => {
    const tenant = 'roll-e';
    await seedSpans(store, threeDays(tenant));
    await refreshCostDaily(store.client, QUIET);
    await seedSpans(store, [span({ kind: 'llm_call', name: 'x', tenantId: tenant, runId: `${tenant}-x`, treeId: `${tenant}-tree`, startTimeMs: T0 + 2 * DAY + 1, model: 'gpt-4o', costMicros: 10 })]);
    // A quiet period long enough for the insert below to land inside it even on a loaded machine.
    const pending = refreshCostDaily(store.client, { quietMs: 4_000, now: () => Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // after its first look at the days
    await seedSpans(store, [span({ kind: 'llm_call', name: 'y', tenantId: tenant, runId: `${tenant}-y`, treeId: `${tenant}-tree`, startTimeMs: T0 + 2 * DAY + 2, model: 'gpt-4o', costMicros: 20 })]);
    const result = await pending;
    expect(result.busy).toContain('2026-05-03');
    expect(result.refreshed).not.toContain('2026-05-03');
    const range = { tenantId: tenant, fromMs: T0, toMs: T0 + 3 * DAY };
    expect(await report(range)).toEqual(await truth(tenant, range.fromMs, range.toMs));
  });
});
