/**
 * The run_edges table (migration 0100): typed causal edges between runs, projected from spans
 * by materialized views, one row a key. A tree's edges are one key range; the causal graph
 * walks depths over them in memory (services/api/spawn-depths.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { columns, isoTimeSql, queryRows, type RowOf } from './json-rows.js';

const edgeColumns = z.object({
  source_run_id: columns.string(),
  target_run_id: columns.string(),
  kind: columns.string(),
  target_tree_id: columns.nullableString(),
  event_id: columns.nullableString(),
  time: columns.nullableString(),
});
export type EdgeRow = RowOf<typeof edgeColumns.shape>;

/** Every typed edge recorded in a tree (edges leaving it name their target tree). */
export async function treeEdges(client: ClickHouseClient, tenantId: string, treeId: string): Promise<EdgeRow[]> {
  return queryRows(client, {
    // One row a key, as FINAL would leave, grouped here instead (a tree's edges are one key
    // range, and FINAL's merge of it cost twice the grouping): the explicit edge over the one
    // implied by parent_run_id (precedence), and of two explicit ones (the same signal sent
    // twice) the later, its columns taken together from one row.
    query: `SELECT source_run_id, target_run_id, kind, chosen.1 AS target_tree_id, chosen.2 AS event_id, ${isoTimeSql('chosen.3')} AS time
            FROM (
              SELECT source_run_id, target_run_id, kind,
                     argMax(tuple(target_tree_id, event_id, time), tuple(precedence, ifNull(time, toDateTime64(0, 3, 'UTC')), ifNull(event_id, ''))) AS chosen
              FROM run_edges
              WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
              GROUP BY source_run_id, target_run_id, kind
            )
            ORDER BY source_run_id, target_run_id, kind`,
    query_params: { tenantId, treeId },
  }, edgeColumns);
}
