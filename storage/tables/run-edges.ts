/**
 * The run_edges table (migration 0100): typed causal edges between runs, projected from spans
 * by materialized views, read with FINAL. A tree's edges are one key range; the causal graph
 * walks depths over them in memory (services/api/spawn-depths.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { queryRows } from './json-rows.js';

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
  const rows = await queryRows(client, {
    query: `SELECT source_run_id, target_run_id, kind, target_tree_id, event_id, toUnixTimestamp64Milli(time) AS time_ms
            FROM run_edges FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
            ORDER BY source_run_id, target_run_id, kind`,
    query_params: { tenantId, treeId },
  });
  return z.array(edgeRow).parse(rows);
}
