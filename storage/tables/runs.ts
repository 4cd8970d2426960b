/**
 * The runs rollup (migration 0101): one row per run with idempotent aggregates only, for
 * listing and filtering runs and for finding which tenant and tree a run id belongs to.
 * Cost and tokens are not here (a sum is not idempotent under redelivery); see span-reads.ts.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

export const RUN_STATUSES = ['running', 'ok', 'error', 'unset'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const count = z.coerce.number().int().nonnegative();

const runRow = z.object({
  tree_id: z.string(),
  run_id: z.string(),
  agent_id: z.string(),
  parent_run_id: z.string().nullable(),
  first_ms: count,
  last_ms: count,
  status: z.enum(RUN_STATUSES),
  spans: count,
  steps: count,
  errors: count,
  trips: count,
});
export type RunRow = z.output<typeof runRow>;

/** The merge of a run's partial rows; every read of `runs` goes through it. */
const MERGED_RUNS = `
  SELECT tree_id, run_id,
         any(agent_id) AS agent_id,
         any(parent_run_id) AS parent_run_id,
         toUnixTimestamp64Milli(min(first_time)) AS first_ms,
         toUnixTimestamp64Milli(max(last_time)) AS last_ms,
         if(argMaxMerge(end_status) = '', 'running', argMaxMerge(end_status)) AS status,
         uniqExactMerge(span_ids) AS spans,
         uniqExactMerge(step_ids) AS steps,
         uniqExactMerge(error_ids) AS errors,
         uniqExactMerge(trip_ids) AS trips
  FROM runs`;

export interface RunFilter {
  agentId?: string;
  status?: RunStatus;
  /** Runs that started in [fromMs, toMs). */
  fromMs?: number;
  toMs?: number;
  tripped?: boolean;
}

/** Position after the last run of a page: runs are listed newest first, then by id. */
export interface RunCursor {
  firstMs: number;
  runId: string;
}

/** One page of a tenant's runs, newest first; asks for `limit + 1` so the caller knows if more follow. */
export async function listRuns(client: ClickHouseClient, tenantId: string, filter: RunFilter, page: { limit: number; after?: RunCursor }): Promise<RunRow[]> {
  const result = await client.query({
    // agent_id is the same on every partial row of a run, so filtering it before the merge is exact;
    // everything else is known only after the merge (HAVING).
    query: `${MERGED_RUNS}
            WHERE tenant_id = {tenantId:String} AND ({agentId:String} = '' OR runs.agent_id = {agentId:String})
            GROUP BY tree_id, run_id
            HAVING first_ms IS NOT NULL
               AND first_ms >= {fromMs:Int64} AND first_ms < {toMs:Int64}
               AND ({status:String} = '' OR status = {status:String})
               AND ({tripped:Int8} = -1 OR (trips > 0) = {tripped:Int8})
               AND ({afterId:String} = '' OR (first_ms, run_id) < ({afterMs:Int64}, {afterId:String}))
            ORDER BY first_ms DESC, run_id DESC
            LIMIT {limit:UInt32}`,
    query_params: {
      tenantId,
      agentId: filter.agentId ?? '',
      fromMs: filter.fromMs ?? 0,
      toMs: filter.toMs ?? Number.MAX_SAFE_INTEGER,
      status: filter.status ?? '',
      tripped: filter.tripped === undefined ? -1 : Number(filter.tripped),
      afterMs: page.after?.firstMs ?? 0,
      afterId: page.after?.runId ?? '',
      limit: page.limit + 1,
    },
    format: 'JSONEachRow',
  });
  return z.array(runRow).parse(await result.json());
}

/** One run of a tenant, or null. Runs seen only through a trip (spans not stored yet) count as missing. */
export async function findRun(client: ClickHouseClient, tenantId: string, runId: string): Promise<RunRow | null> {
  const result = await client.query({
    query: `${MERGED_RUNS}
            WHERE tenant_id = {tenantId:String} AND run_id = {runId:String}
            GROUP BY tree_id, run_id
            HAVING first_ms IS NOT NULL`,
    query_params: { tenantId, runId },
    format: 'JSONEachRow',
  });
  return z.array(runRow).parse(await result.json())[0] ?? null;
}

/** Whether any tenant has runs matching `column = value`; `excludingTenant` skips the caller's. */
async function existsIn(client: ClickHouseClient, column: 'run_id' | 'tree_id' | 'agent_id', value: string, tenant: { is?: string; isNot?: string }): Promise<boolean> {
  const result = await client.query({
    query: `SELECT 1 FROM runs
            WHERE ${column} = {value:String}
              AND ({is:String} = '' OR tenant_id = {is:String})
              AND ({isNot:String} = '' OR tenant_id != {isNot:String})
            LIMIT 1`,
    query_params: { value, is: tenant.is ?? '', isNot: tenant.isNot ?? '' },
    format: 'JSONEachRow',
  });
  return (await result.json()).length > 0;
}

export const runExistsElsewhere = (client: ClickHouseClient, tenantId: string, runId: string) => existsIn(client, 'run_id', runId, { isNot: tenantId });
export const treeExists = (client: ClickHouseClient, tenantId: string, treeId: string) => existsIn(client, 'tree_id', treeId, { is: tenantId });
export const treeExistsElsewhere = (client: ClickHouseClient, tenantId: string, treeId: string) => existsIn(client, 'tree_id', treeId, { isNot: tenantId });
export const agentExists = (client: ClickHouseClient, tenantId: string, agentId: string) => existsIn(client, 'agent_id', agentId, { is: tenantId });
export const agentExistsElsewhere = (client: ClickHouseClient, tenantId: string, agentId: string) => existsIn(client, 'agent_id', agentId, { isNot: tenantId });
