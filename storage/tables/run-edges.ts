/**
 * The run_edges table (migration 0100): typed causal edges between runs, projected from spans
 * by materialized views, read with FINAL. The causal graph's depths come from a recursive
 * query over a tree's spawn edges.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

const edgeRow = z.object({
  source_run_id: z.string(),
  target_run_id: z.string(),
  kind: z.string(),
  target_tree_id: z.string().nullable(),
  event_id: z.string().nullable(),
  time_ms: z.coerce.number().int().nonnegative().nullable(),
});
export type EdgeRow = z.output<typeof edgeRow>;

/** Every typed edge recorded in a tree (edges leaving it name their target tree). */
export async function treeEdges(client: ClickHouseClient, tenantId: string, treeId: string): Promise<EdgeRow[]> {
  const result = await client.query({
    query: `SELECT source_run_id, target_run_id, kind, target_tree_id, event_id, toUnixTimestamp64Milli(time) AS time_ms
            FROM run_edges FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
            ORDER BY source_run_id, target_run_id, kind`,
    query_params: { tenantId, treeId },
    format: 'JSONEachRow',
  });
  return z.array(edgeRow).parse(await result.json());
}

/**
 * Each run's depth in its spawn tree: 0 for a root (a run of the tree no spawn edge of the tree
 * points at), then one more per spawn, by a recursive walk down the spawn edges. Signals and
 * callbacks are causal edges too, but they can point back up the tree; depth follows spawns,
 * which form a tree. `path` stops a walk that would revisit a run (bad data with a spawn cycle),
 * so the walk always ends. Each level is one round of the recursion: wide trees (thousands of
 * runs a few levels deep) take milliseconds; `maxDepth` bounds pathological chains.
 */
export async function treeDepths(client: ClickHouseClient, tenantId: string, treeId: string, maxDepth: number): Promise<Map<string, number>> {
  const result = await client.query({
    query: `WITH RECURSIVE
              spawns AS (
                SELECT source_run_id, target_run_id FROM run_edges FINAL
                WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String} AND kind = 'spawn'
              ),
              roots AS (
                SELECT DISTINCT run_id FROM spans
                WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
                  AND run_id NOT IN (SELECT target_run_id FROM spawns)
              ),
              walk AS (
                SELECT run_id, toUInt32(0) AS depth, [run_id] AS path FROM roots
                UNION ALL
                SELECT s.target_run_id, w.depth + 1, arrayPushBack(w.path, s.target_run_id)
                FROM walk AS w INNER JOIN spawns AS s ON s.source_run_id = w.run_id
                WHERE w.depth < {maxDepth:UInt32} AND NOT has(w.path, s.target_run_id)
              )
            SELECT run_id, min(depth) AS depth FROM walk GROUP BY run_id`,
    query_params: { tenantId, treeId, maxDepth },
    format: 'JSONEachRow',
    // ClickHouse stops a recursive CTE after 1000 rounds by default; a spawn chain may be deeper.
    clickhouse_settings: { max_recursive_cte_evaluation_depth: String(maxDepth + 2) as unknown as number },
  });
  const rows = z.array(z.object({ run_id: z.string(), depth: z.coerce.number().int().nonnegative() })).parse(await result.json());
  return new Map(rows.map((row) => [row.run_id, row.depth]));
}
