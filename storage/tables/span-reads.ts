/**
 * Reads of the spans table for the query API (spans.ts is the sink's write path). Always
 * `FINAL`, so a redelivered span counts once, and always within one tenant and, where known,
 * one tree: spans are ordered by (tenant_id, tree_id, run_id, event_id), so these are
 * primary-key ranges, exact and cheap.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { columns, isoTimeSql, queryColumns, type ColumnsOf } from './json-rows.js';
import { USAGE_AGGREGATES, usageColumns, usageRow } from './usage.js';

const count = z.coerce.number().int().nonnegative();

const runUsageRow = usageRow.extend({ run_id: z.string() });
export type RunUsage = z.output<typeof runUsageRow>;

/** Exact usage of the given runs (each named with its tree, to read key ranges). */
export async function runUsage(client: ClickHouseClient, tenantId: string, runs: { treeId: string; runId: string }[]): Promise<Map<string, RunUsage>> {
  if (runs.length === 0) return new Map();
  const result = await client.query({
    query: `SELECT run_id, ${USAGE_AGGREGATES}
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id IN {treeIds:Array(String)} AND run_id IN {runIds:Array(String)}
            GROUP BY run_id`,
    query_params: { tenantId, treeIds: [...new Set(runs.map((r) => r.treeId))], runIds: runs.map((r) => r.runId) },
    format: 'JSONEachRow',
  });
  return new Map(z.array(runUsageRow).parse(await result.json()).map((row) => [row.run_id, row]));
}

const spanRow = z.object({
  event_id: z.string(),
  span_id: z.string(),
  parent_span_id: z.string().nullable(),
  agent_id: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  error: z.string().nullable(),
  start_ms: count,
  end_ms: count,
  model: z.string().nullable(),
  provider: z.string().nullable(),
  input_tokens: count,
  output_tokens: count,
  cached_tokens: count,
  cost_micros: count.nullable(),
  args_hash: z.string().nullable(),
  args: z.string().nullable(),
  output_hash: z.string().nullable(),
  output: z.string().nullable(),
  user_id: z.string().nullable(),
  session_id: z.string().nullable(),
  edge_kind: z.string().nullable(),
  edge_target_run: z.string().nullable(),
  edge_target_tree: z.string().nullable(),
  attributes: z.record(z.string(), z.string()),
});
export type SpanReadRow = z.output<typeof spanRow>;

/** Position after the last span of a page: spans are listed in start-time order, then by event id. */
export interface SpanCursor {
  startMs: number;
  eventId: string;
}

/** One page of a run's spans; asks for `limit + 1` so the caller knows if more follow. */
export async function runSpansPage(client: ClickHouseClient, run: { tenantId: string; treeId: string; runId: string }, page: { limit: number; after?: SpanCursor }): Promise<SpanReadRow[]> {
  const result = await client.query({
    query: `SELECT event_id, span_id, parent_span_id, agent_id, kind, name, status, error,
                   toUnixTimestamp64Milli(start_time) AS start_ms, toUnixTimestamp64Milli(end_time) AS end_ms,
                   model, provider, input_tokens, output_tokens, cached_tokens, cost_micros,
                   args_hash, args, output_hash, output, user_id, session_id, edge_kind, edge_target_run, edge_target_tree, attributes
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String} AND run_id = {runId:String}
              AND ({afterId:String} = '' OR (start_ms, event_id) > ({afterMs:Int64}, {afterId:String}))
            ORDER BY start_ms, event_id
            LIMIT {limit:UInt32}`,
    query_params: { ...run, afterMs: page.after?.startMs ?? 0, afterId: page.after?.eventId ?? '', limit: page.limit + 1 },
    format: 'JSONEachRow',
  });
  return z.array(spanRow).parse(await result.json());
}

const treeRunColumns = z.object({
  ...usageColumns,
  run_id: columns.string(),
  agent_id: columns.string(),
  parent_run_id: columns.nullableString(),
  end_status: columns.string(),
  errors: columns.count(),
  start_time: columns.string(),
  last_time: columns.string(),
});
export type TreeRuns = ColumnsOf<typeof treeRunColumns.shape>;

/**
 * Every run of a tree with its exact usage: one contiguous key range, one pass. As columns: the
 * causal graph builds its nodes from them straight, with no row objects between.
 */
export async function treeRuns(client: ClickHouseClient, tenantId: string, treeId: string): Promise<TreeRuns> {
  return queryColumns(client, {
    query: `SELECT run_id, any(agent_id) AS agent_id, any(parent_run_id) AS parent_run_id,
                   argMaxIf(toString(status), end_time, kind = 'run_end') AS end_status,
                   countIf(status = 'error') AS errors,
                   ${isoTimeSql('min(start_time)')} AS start_time, ${isoTimeSql('max(end_time)')} AS last_time,
                   ${USAGE_AGGREGATES}
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND tree_id = {treeId:String}
            GROUP BY run_id
            ORDER BY run_id`,
    query_params: { tenantId, treeId },
  }, treeRunColumns);
}
