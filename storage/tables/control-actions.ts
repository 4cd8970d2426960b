/**
 * The control_actions table (migration 0105): halts and resets issued through the API, and
 * the open-breaker view that combines them with the processor's trips (breaker_events).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

export interface ControlActionRecord {
  tenantId: string;
  eventId: string;
  scope: string;
  target: string;
  treeId: string | null;
  action: string;
  message: string;
  keyId: string;
  timeMs: number;
}

export async function insertControlAction(client: ClickHouseClient, record: ControlActionRecord): Promise<void> {
  await client.insert({
    table: 'control_actions',
    values: [{ tenant_id: record.tenantId, event_id: record.eventId, scope: record.scope, target: record.target, tree_id: record.treeId, action: record.action, message: record.message, key_id: record.keyId, time: record.timeMs }],
    format: 'JSONEachRow',
  });
}

const openRow = z.object({
  scope: z.string(),
  target: z.string(),
  tree_id: z.string().nullable(),
  action: z.string(),
  source: z.enum(['detector', 'operator']),
  detector: z.string(),
  message: z.string(),
  event_id: z.string(),
  since_ms: z.coerce.number().int().nonnegative(),
});
export type OpenBreakerRow = z.output<typeof openRow>;

/**
 * Breakers open now: for each (scope, target), the newest of its trips and operator actions,
 * kept when it opens (trip, kill) rather than closes (reset) the breaker. On equal times a
 * reset wins (rank 1): an operator who resets in the same millisecond meant it.
 */
export async function openBreakers(client: ClickHouseClient, tenantId: string): Promise<OpenBreakerRow[]> {
  const result = await client.query({
    query: `SELECT scope, target,
                   argMax(tree_id, (time, rank)) AS tree_id, argMax(action, (time, rank)) AS action, argMax(source, (time, rank)) AS source,
                   argMax(detector, (time, rank)) AS detector, argMax(message, (time, rank)) AS message, argMax(event_id, (time, rank)) AS event_id,
                   toUnixTimestamp64Milli(max(time)) AS since_ms
            FROM (
              SELECT scope, target, toNullable(tree_id) AS tree_id, toString(action) AS action, 'detector' AS source, toString(detector) AS detector, message, event_id, time, 0 AS rank
              FROM breaker_events FINAL WHERE tenant_id = {tenantId:String}
              UNION ALL
              SELECT scope, target, tree_id, toString(action), 'operator', 'operator', message, event_id, time, if(action = 'reset', 1, 0)
              FROM control_actions FINAL WHERE tenant_id = {tenantId:String}
            )
            GROUP BY scope, target
            HAVING action IN ('trip', 'kill')
            ORDER BY since_ms DESC, scope, target`,
    query_params: { tenantId },
    format: 'JSONEachRow',
  });
  return z.array(openRow).parse(await result.json());
}
