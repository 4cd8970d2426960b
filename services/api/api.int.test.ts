/**
 * The query API end to end over app.inject(), on real chDB: runs, spans, the causal graph (a
 * 10,000-run tree whole), breakers, cost reports as JSON and CSV, keys, the access log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../schemas/index.js';
import { apiHarness, loopTrip, seedSpans, seedTrips, type ApiHarness } from '../../test/api.js';
import { span, toolCall } from '../../test/spans.js';

const T0 = Date.UTC(2026, 2, 1);
const HOUR = 3_600_000;
const TENANT = 'acme';

describe('query API', () => {
  let api: ApiHarness;
  let sre: string;
  let finance: string;
  let admin: string;

  /** A root run that spawns a child; the child loops on a failing tool and is tripped. */
  const tree: SpanEvent[] = [
    span({ kind: 'run_start', name: 'planner', tenantId: TENANT, agentId: 'planner', runId: 'root', treeId: 'root', startTimeMs: T0, userId: 'alice', sessionId: 's-1' }),
    span({ kind: 'llm_call', name: 'plan', tenantId: TENANT, agentId: 'planner', runId: 'root', treeId: 'root', startTimeMs: T0 + 1_000, model: 'gpt-4o', provider: 'openai', inputTokens: 1_000, outputTokens: 50, costMicros: 2_500, userId: 'alice', sessionId: 's-1' }),
    span({ kind: 'spawn', name: 'researcher', tenantId: TENANT, agentId: 'planner', runId: 'root', treeId: 'root', startTimeMs: T0 + 2_000, status: 'ok', edge: { kind: 'spawn', targetRunId: 'child', targetTreeId: 'root' }, userId: 'alice', sessionId: 's-1' }),
    span({ kind: 'run_start', name: 'researcher', tenantId: TENANT, agentId: 'researcher', runId: 'child', parentRunId: 'root', treeId: 'root', startTimeMs: T0 + 3_000, userId: 'alice', sessionId: 's-1' }),
    ...[1, 2, 3].map((i) => toolCall('web_search', 'h-same', { status: 'error' }, { tenantId: TENANT, agentId: 'researcher', runId: 'child', parentRunId: 'root', treeId: 'root', startTimeMs: T0 + 3_000 + i * 1_000, userId: 'alice', sessionId: 's-1' })),
    span({ kind: 'llm_call', name: 'think', tenantId: TENANT, agentId: 'researcher', runId: 'child', parentRunId: 'root', treeId: 'root', startTimeMs: T0 + 7_000, model: 'claude-sonnet', provider: 'anthropic', inputTokens: 500, outputTokens: 20, costMicros: 1_200, userId: 'bob', sessionId: 's-2' }),
    span({ kind: 'signal', name: 'done?', tenantId: TENANT, agentId: 'researcher', runId: 'child', parentRunId: 'root', treeId: 'root', startTimeMs: T0 + 8_000, edge: { kind: 'signal_fire', targetRunId: 'root', targetTreeId: 'root' }, userId: 'bob', sessionId: 's-2' }),
    span({ kind: 'run_end', name: 'planner', tenantId: TENANT, agentId: 'planner', runId: 'root', treeId: 'root', status: 'ok', startTimeMs: T0 + 9_000, userId: 'alice', sessionId: 's-1' }),
  ];

  beforeAll(async () => {
    api = await apiHarness();
    [sre, finance, admin] = await Promise.all([api.key(TENANT, 'sre'), api.key(TENANT, 'finance'), api.key(TENANT, 'admin')]);
    await seedSpans(api.store, tree);
    await seedSpans(api.store, tree.slice(2)); // redelivered: must change no number below
    await seedTrips(api.store, [loopTrip({ eventId: 'trip-child', tenantId: TENANT, agentId: 'researcher', runId: 'child', treeId: 'root', timeMs: T0 + 6_100 })]);
    // Other runs of the tenant, a day later, one per hour, for listing and pages.
    await seedSpans(api.store, Array.from({ length: 5 }, (_, i) => span({ kind: 'llm_call', name: 'chat', tenantId: TENANT, agentId: 'batch', runId: `batch-${i}`, treeId: `batch-${i}`, startTimeMs: T0 + 24 * HOUR + i * HOUR, model: 'gpt-4o', costMicros: 100, userId: 'carol' })));
  });
  afterAll(async () => { await api?.close(); });

  describe('runs', () => {
    it('lists runs newest first with usage computed exactly from their spans', async () => {
      const response = await api.get(sre, '/v1/runs?agent=researcher');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        runs: [{
          runId: 'child', treeId: 'root', agentId: 'researcher', parentRunId: 'root', status: 'running',
          startTime: new Date(T0 + 3_000).toISOString(), lastTime: new Date(T0 + 8_100).toISOString(), errors: 3, trips: 1,
          spans: 6, steps: 5, costMicros: 1_200, unpricedSpans: 0, inputTokens: 500, outputTokens: 20, cachedTokens: 0,
        }],
        nextCursor: null,
      });
    });

    it.each([
      ['status=ok', ['root']],
      ['tripped=true', ['child']],
      ['tripped=false&to=2026-03-02', ['root']],
      [`from=${T0 + 24 * HOUR + 2 * HOUR}&to=${T0 + 24 * HOUR + 4 * HOUR}`, ['batch-3', 'batch-2']],
    ])('filters by %s', async (query, runIds) => {
      const response = await api.get(sre, `/v1/runs?${query}`);
      expect(response.statusCode).toBe(200);
      expect(response.json().runs.map((r: { runId: string }) => r.runId)).toEqual(runIds);
    });

    it('pages through every run once with the cursor', async () => {
      const seen: string[] = [];
      let url = '/v1/runs?limit=2';
      for (let pages = 0; pages < 10; pages++) {
        const body = (await api.get(sre, url)).json();
        seen.push(...body.runs.map((r: { runId: string }) => r.runId));
        if (body.nextCursor === null) break;
        url = `/v1/runs?limit=2&cursor=${body.nextCursor}`;
      }
      expect(seen).toEqual(['batch-4', 'batch-3', 'batch-2', 'batch-1', 'batch-0', 'child', 'root']);
    });

    it('reads one run with its trips and their reasons', async () => {
      const body = (await api.get(sre, '/v1/runs/child')).json();
      expect(body.run).toMatchObject({ runId: 'child', trips: 1, steps: 5, costMicros: 1_200 });
      expect(body.trips).toEqual([expect.objectContaining({ eventId: 'trip-child', detector: 'loop', threshold: 3, observed: 3, policyId: 'builtin:loop', lastAction: 'tool_call web_search', time: new Date(T0 + 6_100).toISOString() })]);
    });

    it('pages through a run\'s spans in time order', async () => {
      const first = (await api.get(sre, '/v1/runs/child/spans?limit=4')).json();
      expect(first.spans.map((s: { kind: string }) => s.kind)).toEqual(['run_start', 'tool_call', 'tool_call', 'tool_call']);
      const second = (await api.get(sre, `/v1/runs/child/spans?limit=4&cursor=${first.nextCursor}`)).json();
      expect(second.spans.map((s: { kind: string }) => s.kind)).toEqual(['llm_call', 'signal']);
      expect(second.nextCursor).toBeNull();
      expect(second.spans[1]).toMatchObject({ edge: { kind: 'signal_fire', targetRunId: 'root', targetTreeId: 'root' }, userId: 'bob', sessionId: 's-2' });
      expect(first.spans[1]).toMatchObject({ status: 'error', error: 'HTTP 503', argsHash: 'h-same', startTime: new Date(T0 + 4_000).toISOString() });
    });

    it('answers 404 for a run that does not exist', async () => {
      const response = await api.get(sre, '/v1/runs/nope/spans');
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: "run 'nope' not found" } });
    });
  });

  describe('causal graph', () => {
    it('gives a tree\'s runs with depth and usage, and its typed edges', async () => {
      const fromRun = (await api.get(sre, '/v1/runs/child/graph')).json();
      const fromTree = (await api.get(sre, '/v1/trees/root/graph')).json();
      expect(fromRun).toEqual(fromTree);
      expect(fromTree.nodes).toEqual([
        expect.objectContaining({ runId: 'child', agentId: 'researcher', parentRunId: 'root', status: 'running', depth: 1, steps: 5, costMicros: 1_200, inputTokens: 500 }),
        expect.objectContaining({ runId: 'root', agentId: 'planner', parentRunId: null, status: 'ok', depth: 0, steps: 2, costMicros: 2_500, inputTokens: 1_000 }),
      ]);
      expect(fromTree.edges.map((e: { sourceRunId: string; kind: string; targetRunId: string }) => `${e.sourceRunId} -${e.kind}-> ${e.targetRunId}`)).toEqual([
        'child -signal_fire-> root',
        'root -spawn-> child',
      ]);
    });

    it('shows a spawned run whose spans have not arrived yet as pending', async () => {
      await seedSpans(api.store, [span({ kind: 'spawn', name: 'late', tenantId: TENANT, runId: 'p-root', treeId: 'p-root', startTimeMs: T0 + 96 * HOUR, edge: { kind: 'spawn', targetRunId: 'p-late', targetTreeId: 'p-root' } })]);
      const body = (await api.get(sre, '/v1/trees/p-root/graph')).json();
      expect(body.nodes.map((n: { runId: string; status: string; depth: number }) => [n.runId, n.status, n.depth])).toEqual([['p-root', 'running', 0], ['p-late', 'pending', 1]]);
    });

    it('returns a 10,000-run tree whole', async () => {
      // Fan-out 10 (1 + 10 + 100 + 1,000 + 8,889 runs): each run starts with a parent link, the
      // parent records a spawn edge, and each run makes one priced model call.
      const runs = 10_000;
      const events: SpanEvent[] = [];
      const parentOf = (i: number) => (i === 0 ? null : `big-${Math.floor((i - 1) / 10)}`);
      for (let i = 0; i < runs; i++) {
        const runId = `big-${i}`;
        const at = T0 + 48 * HOUR + i;
        events.push(span({ eventId: `big-start-${i}`, kind: 'run_start', name: 'r', tenantId: TENANT, agentId: `worker-${i % 7}`, runId, parentRunId: parentOf(i), treeId: 'big-0', startTimeMs: at }));
        events.push(span({ eventId: `big-llm-${i}`, kind: 'llm_call', name: 'm', tenantId: TENANT, agentId: `worker-${i % 7}`, runId, parentRunId: parentOf(i), treeId: 'big-0', startTimeMs: at, model: 'gpt-4o-mini', inputTokens: 10, costMicros: 3 }));
        if (i > 0) events.push(span({ eventId: `big-spawn-${i}`, kind: 'spawn', name: 'spawn', tenantId: TENANT, agentId: `worker-${(Math.floor((i - 1) / 10)) % 7}`, runId: parentOf(i)!, parentRunId: parentOf(Math.floor((i - 1) / 10)), treeId: 'big-0', startTimeMs: at, edge: { kind: 'spawn', targetRunId: runId, targetTreeId: 'big-0' } }));
      }
      for (let i = 0; i < events.length; i += 10_000) await seedSpans(api.store, events.slice(i, i + 10_000));

      const started = performance.now();
      const response = await api.get(sre, '/v1/trees/big-0/graph');
      const elapsedMs = performance.now() - started;
      expect(response.statusCode).toBe(200);
      const body = response.json() as { nodes: { runId: string; depth: number | null; steps: number; costMicros: number }[]; edges: { kind: string }[] };
      expect(body.nodes).toHaveLength(runs);
      expect(body.edges).toHaveLength(runs - 1);
      expect(body.edges.every((e) => e.kind === 'spawn')).toBe(true);
      const depths = new Map<number, number>();
      for (const node of body.nodes) depths.set(node.depth!, (depths.get(node.depth!) ?? 0) + 1);
      expect(Object.fromEntries(depths)).toEqual({ 0: 1, 1: 10, 2: 100, 3: 1_000, 4: 8_889 });
      expect(body.nodes.reduce((sum, n) => sum + n.costMicros, 0)).toBe(3 * runs);
      console.log(`causal graph of a ${runs}-run tree: ${Math.round(elapsedMs)} ms (chDB, 2 shared cores)`);
    });

    it('walks a spawn chain deeper than ClickHouse\'s default recursion limit', async () => {
      const depth = 1_200;
      await seedSpans(api.store, Array.from({ length: depth }, (_, i) => span({ kind: 'run_start', name: 'r', tenantId: TENANT, runId: `chain-${i}`, parentRunId: i === 0 ? null : `chain-${i - 1}`, treeId: 'chain-0', startTimeMs: T0 + 72 * HOUR + i })));
      const body = (await api.get(sre, '/v1/trees/chain-0/graph')).json() as { nodes: { runId: string; depth: number }[] };
      expect(body.nodes).toHaveLength(depth);
      expect(body.nodes.find((n) => n.runId === `chain-${depth - 1}`)!.depth).toBe(depth - 1);
    });
  });

  describe('breakers', () => {
    it('lists trips with their reasons, filtered and paged', async () => {
      await seedTrips(api.store, [loopTrip({ eventId: 'trip-b', tenantId: TENANT, agentId: 'batch', runId: 'batch-1', treeId: 'batch-1', detector: 'failure_streak', timeMs: T0 + 25 * HOUR })]);
      const all = (await api.get(sre, '/v1/breakers/trips?limit=1')).json();
      expect(all.trips.map((t: { eventId: string }) => t.eventId)).toEqual(['trip-b']);
      const next = (await api.get(sre, `/v1/breakers/trips?limit=1&cursor=${all.nextCursor}`)).json();
      expect(next.trips.map((t: { eventId: string }) => t.eventId)).toEqual(['trip-child']);
      expect((await api.get(sre, '/v1/breakers/trips?detector=loop')).json().trips).toHaveLength(1);
      expect((await api.get(sre, '/v1/breakers/trips?tree=root')).json().trips.map((t: { runId: string }) => t.runId)).toEqual(['child']);
    });

    it('lists open breakers: a trip stays open until an operator resets it', async () => {
      const open = async () => (await api.get(sre, '/v1/breakers/open')).json().breakers.map((b: { scope: string; target: string; source: string }) => `${b.scope}:${b.target}:${b.source}`);
      expect(await open()).toEqual(expect.arrayContaining(['run:child:detector', 'run:batch-1:detector']));
      const reset = await api.call(sre, { method: 'POST', url: '/v1/runs/child/reset', payload: { reason: 'fixed the search API' } });
      expect(reset.statusCode).toBe(202);
      expect(reset.json()).toMatchObject({ scope: 'run', target: 'child', treeId: 'root', action: 'reset', messages: 1 });
      expect(await open()).not.toContain('run:child:detector');
      const halt = await api.call(sre, { method: 'POST', url: '/v1/agents/batch/halt', payload: {} });
      expect(halt.json()).toMatchObject({ scope: 'agent', target: 'batch', treeId: null, action: 'kill', messages: 3 });
      expect(await open()).toContain('agent:batch:operator');
    });

    it('answers 400 naming the field for a bad halt body', async () => {
      const response = await api.call(sre, { method: 'POST', url: '/v1/trees/root/halt', payload: { reason: '' } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body.reason' });
      const malformed = await api.call(sre, { method: 'POST', url: '/v1/trees/root/halt', payload: '{"reason":', headers: { 'content-type': 'application/json' } });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('INVALID_REQUEST');
    });
  });

  describe('cost reports', () => {
    const range = `from=${T0}&to=${T0 + 24 * HOUR}`;

    it('groups by agent and model; totals are the sum of the spans covered', async () => {
      const response = await api.get(finance, `/v1/reports/cost?${range}&by=agent,model`);
      expect(response.statusCode).toBe(200);
      const report = response.json();
      expect(report.rows.map((r: { group: object; costMicros: number; spans: number }) => [r.group, r.costMicros, r.spans])).toEqual([
        [{ agent: 'planner', model: 'gpt-4o' }, 2_500, 1],
        [{ agent: 'planner', model: null }, 0, 3],
        [{ agent: 'researcher', model: 'claude-sonnet' }, 1_200, 1],
        [{ agent: 'researcher', model: null }, 0, 5],
      ]);
      expect(report.totals).toMatchObject({ costMicros: 3_700, costUsd: '0.003700', spans: 10, inputTokens: 1_500, outputTokens: 70 });
      const [truth] = await (await api.store.client.query({
        query: `SELECT sum(ifNull(cost_micros, 0)) AS cost, count() AS n FROM spans FINAL WHERE tenant_id = 'acme' AND start_time >= fromUnixTimestamp64Milli(${T0}, 'UTC') AND start_time < fromUnixTimestamp64Milli(${T0 + 24 * HOUR}, 'UTC')`,
        format: 'JSONEachRow',
      })).json<{ cost: string; n: string }>();
      expect(report.totals.costMicros).toBe(Number(truth!.cost));
      expect(report.totals.spans).toBe(Number(truth!.n));
    });

    it.each([
      ['user', [['alice', 2_500], ['bob', 1_200]]],
      ['session', [['s-1', 2_500], ['s-2', 1_200]]],
      ['day', [['2026-03-01', 3_700]]],
      ['provider', [['anthropic', 1_200], ['openai', 2_500], [null, 0]]],
    ])('groups by %s', async (by, expected) => {
      const report = (await api.get(finance, `/v1/reports/cost?${range}&by=${by}`)).json();
      expect(report.rows.map((r: { group: Record<string, string | null>; costMicros: number }) => [r.group[by], r.costMicros])).toEqual(expected);
    });

    it('serves the same report as CSV', async () => {
      const json = (await api.get(finance, `/v1/reports/cost?from=2026-03-01&to=2026-03-03&by=day,agent`)).json();
      const csv = await api.get(finance, `/v1/reports/cost?from=2026-03-01&to=2026-03-03&by=day,agent&format=csv`);
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(csv.headers['content-disposition']).toBe('attachment; filename="cost-acme-2026-03-01-2026-03-03.csv"');
      const lines = csv.body.trimEnd().split('\r\n');
      expect(lines[0]).toBe('day,agent,spans,steps,cost_micros,cost_usd,unpriced_spans,input_tokens,output_tokens,cached_tokens');
      expect(lines.slice(1)).toEqual([
        '2026-03-01,planner,4,2,2500,0.002500,0,1000,50,0',
        '2026-03-01,researcher,6,5,1200,0.001200,0,500,20,0',
        '2026-03-02,batch,5,5,500,0.000500,0,0,0,0',
      ]);
      const csvTotal = lines.slice(1).reduce((sum, line) => sum + Number(line.split(',')[4]), 0);
      expect(csvTotal).toBe(json.totals.costMicros);
    });

    it('refuses, rather than truncates, a report with too many groups', async () => {
      const small = await apiHarness({ store: api.store, limits: { maxReportGroups: 2 } });
      try {
        const response = await small.get(finance, `/v1/reports/cost?${range}&by=agent,model`);
        expect(response.statusCode).toBe(422);
        expect(response.json().error).toMatchObject({ code: 'REPORT_TOO_LARGE', field: 'query.by' });
      } finally {
        await small.close();
      }
    });
  });

  describe('keys and the access log', () => {
    it('an admin creates a key, shown once; the key works until revoked', async () => {
      const created = await api.call(admin, { method: 'POST', url: '/v1/keys', payload: { role: 'sre', name: 'on-call' } });
      expect(created.statusCode).toBe(201);
      const { key, keyId } = created.json();
      expect(key).toMatch(new RegExp(`^fbx_${keyId}_`));
      expect((await api.get(key, '/v1/runs?limit=1')).statusCode).toBe(200);
      const listed = (await api.get(admin, '/v1/keys')).json().keys;
      expect(listed.find((k: { keyId: string }) => k.keyId === keyId)).toEqual({ keyId, tenantId: TENANT, role: 'sre', name: 'on-call', createdAt: expect.any(String), createdBy: expect.stringMatching(/^[0-9a-f]{16}$/), revokedAt: null });
      expect(JSON.stringify(listed)).not.toContain(key.slice(21));
      const [{ key_sha256 }] = await (await api.store.client.query({ query: `SELECT key_sha256 FROM api_keys FINAL WHERE key_id = '${keyId}'`, format: 'JSONEachRow' })).json<{ key_sha256: string }>() as [{ key_sha256: string }];
      expect(key_sha256).not.toContain(key.slice(21));

      const revoked = await api.call(admin, { method: 'DELETE', url: `/v1/keys/${keyId}` });
      expect(revoked.json().revokedAt).not.toBeNull();
      const refused = await api.get(key, '/v1/runs');
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.message).toBe(`API key ${keyId} was revoked`);
    });

    it.each([
      [null, 'missing API key: send the header "Authorization: Bearer fbx_..."'],
      ['fbx_0123456789abcdef_' + 'x'.repeat(43), 'unknown API key'],
      ['not-a-key', 'unknown API key'],
    ])('answers 401 to the key %j', async (key, message) => {
      const response = await api.get(key, '/v1/runs');
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message } });
    });

    it('leaves an access-log row for every read of runs, spans and reports', async () => {
      const reader = await api.key(TENANT, 'admin');
      const reads = ['/v1/runs', '/v1/runs/root', '/v1/runs/root/spans', '/v1/runs/root/graph', '/v1/trees/root/graph', `/v1/reports/cost?from=${T0}&to=${T0 + HOUR}`, '/v1/runs/nope'];
      for (const url of reads) await api.get(reader, url);
      const keyId = reader.slice(4, 20);
      const rows = (await api.accessRows(TENANT)).filter((r) => r.key_id === keyId).reverse();
      expect(rows.map((r) => [r.route, r.resource_type, r.resource_id, r.status_code, r.flagged])).toEqual([
        ['/v1/runs', 'runs', '', 200, false],
        ['/v1/runs/:runId', 'run', 'root', 200, false],
        ['/v1/runs/:runId/spans', 'spans', 'root', 200, false],
        ['/v1/runs/:runId/graph', 'graph', 'root', 200, false],
        ['/v1/trees/:treeId/graph', 'graph', 'root', 200, false],
        ['/v1/reports/cost', 'cost_report', `${new Date(T0).toISOString()}..${new Date(T0 + HOUR).toISOString()}`, 200, false],
        ['/v1/runs/:runId', 'run', 'nope', 404, false],
      ]);
      expect(rows.every((r) => r.role === 'admin' && r.method === 'GET' && r.request_id.length === 36)).toBe(true);
    });

    it('serves the OpenAPI document without a key', async () => {
      const response = await api.get(null, '/openapi.json');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ openapi: '3.1.0', paths: { '/v1/runs': { get: { summary: 'List runs' } } } });
    });

    it('answers an unknown route with the same error shape', async () => {
      const response = await api.get(sre, '/v1/nothing');
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe('NOT_FOUND');
    });
  });
});
