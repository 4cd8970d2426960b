/** Runs: list and filter, one run's detail, its spans, and the causal graph of its tree. */
import { z } from 'zod';
import { listTrips } from '../../../storage/tables/breaker-events-reads.js';
import { listRuns } from '../../../storage/tables/runs.js';
import { runSpansPage, runUsage } from '../../../storage/tables/span-reads.js';
import { NO_USAGE } from '../../../storage/tables/usage.js';
import { causalGraph } from '../graph.js';
import { ownedRun, ownedTree } from '../ownership.js';
import { decodeCursor, page } from '../pagination.js';
import { defineRoute } from '../route.js';
import { graph, runDetail, runList, runListQuery, runParams, spanList, spanListQuery, treeParams } from '../schemas.js';
import { runView, spanViewOf, tripView } from '../views.js';

const runCursor = z.object({ firstMs: z.number().int(), runId: z.string() });
const spanCursor = z.object({ startMs: z.number().int(), eventId: z.string() });

export const runRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/runs', tag: 'runs', permission: 'runs:read', resource: 'runs',
    summary: 'List runs',
    query: runListQuery, response: runList,
    async handler({ query, caller, access, deps }) {
      access.resourceId = query.agent ?? '';
      const rows = await listRuns(deps.store.client, caller.tenantId,
        { agentId: query.agent, status: query.status, fromMs: query.from, toMs: query.to, tripped: query.tripped },
        { limit: query.limit, after: decodeCursor(query.cursor, runCursor) });
      const { items, nextCursor } = page(rows, query.limit, (run) => ({ firstMs: run.first_ms, runId: run.run_id }));
      const usage = await runUsage(deps.store.client, caller.tenantId, items.map((run) => ({ treeId: run.tree_id, runId: run.run_id })));
      return { runs: items.map((run) => runView(run, usage.get(run.run_id) ?? NO_USAGE)), nextCursor };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/runs/:runId', tag: 'runs', permission: 'runs:read', resource: 'run',
    summary: 'Read a run',
    params: runParams, response: runDetail,
    async handler({ params, caller, access, deps }) {
      const run = await ownedRun(deps, caller, access, params.runId);
      const [usage, trips] = await Promise.all([
        runUsage(deps.store.client, caller.tenantId, [{ treeId: run.tree_id, runId: run.run_id }]),
        listTrips(deps.store.client, caller.tenantId, { runId: run.run_id, treeId: run.tree_id }, { limit: deps.limits.maxPageSize }),
      ]);
      return { run: runView(run, usage.get(run.run_id) ?? NO_USAGE), trips: trips.slice(0, deps.limits.maxPageSize).map(tripView) };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/runs/:runId/spans', tag: 'runs', permission: 'runs:read', resource: 'spans',
    summary: 'List a run\'s spans',
    params: runParams, query: spanListQuery, response: spanList,
    async handler({ params, query, caller, access, deps }) {
      const run = await ownedRun(deps, caller, access, params.runId);
      const rows = await runSpansPage(deps.store.client, { tenantId: caller.tenantId, treeId: run.tree_id, runId: run.run_id },
        { limit: query.limit, after: decodeCursor(query.cursor, spanCursor) });
      const { items, nextCursor } = page(rows, query.limit, (span) => ({ startMs: span.start_ms, eventId: span.event_id }));
      return { spans: items.map(spanViewOf), nextCursor };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/runs/:runId/graph', tag: 'runs', permission: 'runs:read', resource: 'graph',
    summary: 'Read the causal graph of a run\'s tree',
    params: runParams, response: graph,
    async handler({ params, caller, access, deps }) {
      const run = await ownedRun(deps, caller, access, params.runId);
      return causalGraph(deps, caller.tenantId, run.tree_id);
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/trees/:treeId/graph', tag: 'runs', permission: 'runs:read', resource: 'graph',
    summary: 'Read the causal graph of a tree',
    params: treeParams, response: graph,
    async handler({ params, caller, access, deps }) {
      await ownedTree(deps, caller, access, params.treeId);
      return causalGraph(deps, caller.tenantId, params.treeId);
    },
  }),
];
