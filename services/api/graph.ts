/**
 * The causal graph of one spawn tree: every run of the tree as a node (with exact usage from its
 * spans and its spawn depth) and every typed edge recorded in it. Two reads, each one key range
 * of the tree (tree_id is on every span and edge); depths are walked here over the edges read.
 * Nodes are built from the runs' columns straight (a 10,000-run tree: no row objects between).
 */
import type { z } from 'zod';
import { treeEdges } from '../../storage/tables/run-edges.js';
import { treeRuns } from '../../storage/tables/span-reads.js';
import { NO_USAGE } from '../../storage/tables/usage.js';
import type { RunStatus } from '../../storage/tables/runs.js';
import type { ApiDeps } from './route.js';
import type { graph, graphNode } from './schemas.js';
import { spawnDepths } from './spawn-depths.js';
import { usageView } from './views.js';

export async function causalGraph(deps: ApiDeps, tenantId: string, treeId: string): Promise<z.output<typeof graph>> {
  const client = deps.store.client;
  const [runs, edges] = await Promise.all([treeRuns(client, tenantId, treeId), treeEdges(client, tenantId, treeId)]);
  const spawns = edges.filter((edge) => edge.kind === 'spawn').map((edge) => ({ source: edge.source_run_id, target: edge.target_run_id }));
  const run = runs.columns;
  const depths = spawnDepths(run.run_id, spawns, deps.limits.maxGraphDepth);
  const nodes: z.output<typeof graphNode>[] = new Array(runs.length);
  for (let i = 0; i < runs.length; i++) {
    nodes[i] = {
      runId: run.run_id[i]!,
      agentId: run.agent_id[i]!,
      parentRunId: run.parent_run_id[i]!,
      status: (run.end_status[i] === '' ? 'running' : run.end_status[i]) as RunStatus,
      depth: depths.get(run.run_id[i]!) ?? null,
      errors: run.errors[i]!,
      startTime: run.start_time[i]!,
      lastTime: run.last_time[i]!,
      spans: run.spans[i]!,
      steps: run.steps[i]!,
      costMicros: run.total_cost_micros[i]!,
      unpricedSpans: run.unpriced_spans[i]!,
      inputTokens: run.input_tokens[i]!,
      outputTokens: run.output_tokens[i]!,
      cachedTokens: run.cached_tokens[i]!,
    };
  }
  // A spawn recorded before any of the child's spans is stored: still part of the tree.
  const known = new Set(nodes.map((n) => n.runId));
  for (const edge of edges) {
    const inTree = edge.target_tree_id === null || edge.target_tree_id === treeId;
    if (!inTree || known.has(edge.target_run_id)) continue;
    known.add(edge.target_run_id);
    nodes.push({
      runId: edge.target_run_id, agentId: null, parentRunId: edge.kind === 'spawn' ? edge.source_run_id : null, status: 'pending',
      depth: depths.get(edge.target_run_id) ?? null, errors: 0, startTime: null, lastTime: null, ...usageView(NO_USAGE),
    });
  }
  return {
    treeId,
    nodes,
    edges: edges.map((edge) => ({
      sourceRunId: edge.source_run_id, targetRunId: edge.target_run_id, kind: edge.kind, targetTreeId: edge.target_tree_id,
      eventId: edge.event_id, time: edge.time,
    })),
  };
}
