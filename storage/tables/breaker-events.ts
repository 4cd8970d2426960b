/** The breaker_events table: the audit trail of every trip. */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import type { BreakerEvent } from '../../schemas/index.js';

export function toBreakerRow(event: BreakerEvent) {
  return {
    tenant_id: event.tenantId,
    event_id: event.eventId,
    agent_id: event.agentId,
    run_id: event.runId,
    tree_id: event.treeId,
    scope: event.scope,
    target: event.target,
    action: event.action,
    detector: event.detector,
    threshold: event.threshold,
    observed: event.observed,
    window_ms: event.windowMs,
    policy_id: event.policyId,
    policy_version: event.policyVersion,
    last_action: event.lastAction,
    trigger_event_id: event.triggerEventId,
    steps_elapsed: event.stepsElapsed,
    run_cost_micros: event.runCostMicros,
    tree_cost_micros: event.treeCostMicros,
    message: event.message,
    time: event.timeMs,
  };
}

export type BreakerRow = ReturnType<typeof toBreakerRow>;

export async function insertBreakerEvents(client: ClickHouseClient, rows: BreakerRow[], dedupToken: string): Promise<void> {
  if (rows.length === 0) return;
  await client.insert({ table: 'breaker_events', values: rows, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: dedupToken } });
}

const count = z.coerce.number().int().nonnegative();
/** One trip as read back: shared by the sink's tests, the demo and the query API's reads. */
export const auditRow = z.object({
  event_id: z.string(),
  agent_id: z.string(),
  run_id: z.string(),
  tree_id: z.string(),
  scope: z.string(),
  target: z.string(),
  action: z.string(),
  detector: z.string(),
  threshold: count,
  observed: count,
  window_ms: count.nullable(),
  policy_id: z.string(),
  policy_version: count,
  last_action: z.string(),
  trigger_event_id: z.string(),
  steps_elapsed: count,
  run_cost_micros: count,
  tree_cost_micros: count,
  message: z.string(),
  time_ms: count,
});
export type AuditRow = z.output<typeof auditRow>;

/** The trips of one tenant, newest first; optionally of one run. */
export async function breakerEvents(client: ClickHouseClient, tenantId: string, filter: { runId?: string; limit?: number } = {}): Promise<AuditRow[]> {
  const result = await client.query({
    query: `SELECT event_id, agent_id, run_id, tree_id, scope, target, action, detector, threshold, observed, window_ms,
                   policy_id, policy_version, last_action, trigger_event_id, steps_elapsed, run_cost_micros, tree_cost_micros,
                   message, toUnixTimestamp64Milli(time) AS time_ms
            FROM breaker_events FINAL
            WHERE tenant_id = {tenantId:String} AND ({runId:String} = '' OR run_id = {runId:String})
            ORDER BY time DESC, event_id
            LIMIT {limit:UInt32}`,
    query_params: { tenantId, runId: filter.runId ?? '', limit: filter.limit ?? 100 },
    format: 'JSONEachRow',
  });
  return z.array(auditRow).parse(await result.json());
}
