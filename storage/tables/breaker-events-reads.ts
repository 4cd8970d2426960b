/**
 * Paged reads of breaker_events (the processor's audit trail of trips, stored by the sink) for
 * the query API; breaker-events.ts is the sink's write path.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { auditRow } from './breaker-events.js';

const tripRow = auditRow;
export type TripRow = z.output<typeof tripRow>;

export interface TripFilter {
  fromMs?: number;
  toMs?: number;
  detector?: string;
  agentId?: string;
  runId?: string;
  treeId?: string;
}

/** Position after the last trip of a page: trips are listed newest first, then by event id. */
export interface TripCursor {
  timeMs: number;
  eventId: string;
}

export async function listTrips(client: ClickHouseClient, tenantId: string, filter: TripFilter, page: { limit: number; after?: TripCursor }): Promise<TripRow[]> {
  const result = await client.query({
    query: `SELECT event_id, agent_id, run_id, tree_id, scope, target, action, detector, threshold, observed, window_ms,
                   policy_id, policy_version, last_action, trigger_event_id, steps_elapsed, run_cost_micros, tree_cost_micros,
                   message, toUnixTimestamp64Milli(time) AS time_ms
            FROM breaker_events FINAL
            WHERE tenant_id = {tenantId:String}
              AND time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
              AND ({detector:String} = '' OR detector = {detector:String})
              AND ({agentId:String} = '' OR agent_id = {agentId:String})
              AND ({runId:String} = '' OR run_id = {runId:String})
              AND ({treeId:String} = '' OR tree_id = {treeId:String})
              AND ({afterId:String} = '' OR (time_ms, event_id) < ({afterMs:Int64}, {afterId:String}))
            ORDER BY time_ms DESC, event_id DESC
            LIMIT {limit:UInt32}`,
    query_params: {
      tenantId, fromMs: filter.fromMs ?? 0, toMs: filter.toMs ?? MAX_TIME_MS, detector: filter.detector ?? '', agentId: filter.agentId ?? '',
      runId: filter.runId ?? '', treeId: filter.treeId ?? '', afterMs: page.after?.timeMs ?? 0, afterId: page.after?.eventId ?? '', limit: page.limit + 1,
    },
    format: 'JSONEachRow',
  });
  return z.array(tripRow).parse(await result.json());
}

/** Far enough in the future for "no upper bound", within DateTime64(3)'s range (year 2299). */
export const MAX_TIME_MS = Date.UTC(2299, 0, 1);
