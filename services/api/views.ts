/** Storage rows to API answers: camelCase, ISO times, usage in one shape everywhere. */
import type { z } from 'zod';
import type { OpenBreakerRow } from '../../storage/tables/control-actions.js';
import type { TripRow } from '../../storage/tables/breaker-events-reads.js';
import type { RunRow } from '../../storage/tables/runs.js';
import type { SpanReadRow } from '../../storage/tables/span-reads.js';
import type { UsageRow } from '../../storage/tables/usage.js';
import type { ApiKeyRecord } from '../../storage/tables/api-keys.js';
import { iso, type apiKeyView, type openBreaker, type runSummary, type spanView, type trip } from './schemas.js';

export function usageView(usage: UsageRow) {
  return {
    spans: usage.spans,
    steps: usage.steps,
    costMicros: usage.total_cost_micros,
    unpricedSpans: usage.unpriced_spans,
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    cachedTokens: usage.cached_tokens,
  };
}

/** A run from the rollup, with usage computed exactly from its spans. */
export function runView(run: RunRow, usage: UsageRow): z.output<typeof runSummary> {
  return {
    runId: run.run_id,
    treeId: run.tree_id,
    agentId: run.agent_id,
    parentRunId: run.parent_run_id,
    status: run.status,
    startTime: iso(run.first_ms),
    lastTime: iso(run.last_ms),
    errors: run.errors,
    trips: run.trips,
    ...usageView(usage),
  };
}

export function tripView(row: TripRow): z.output<typeof trip> {
  return {
    eventId: row.event_id, time: iso(row.time_ms), agentId: row.agent_id, runId: row.run_id, treeId: row.tree_id, scope: row.scope,
    target: row.target, action: row.action, detector: row.detector, threshold: row.threshold, observed: row.observed, windowMs: row.window_ms,
    policyId: row.policy_id, policyVersion: row.policy_version, lastAction: row.last_action, triggerEventId: row.trigger_event_id,
    stepsElapsed: row.steps_elapsed, runCostMicros: row.run_cost_micros, treeCostMicros: row.tree_cost_micros, message: row.message,
  };
}

export function spanViewOf(row: SpanReadRow): z.output<typeof spanView> {
  return {
    eventId: row.event_id, spanId: row.span_id, parentSpanId: row.parent_span_id, agentId: row.agent_id, kind: row.kind, name: row.name,
    status: row.status, error: row.error, startTime: iso(row.start_ms), endTime: iso(row.end_ms), model: row.model, provider: row.provider,
    inputTokens: row.input_tokens, outputTokens: row.output_tokens, cachedTokens: row.cached_tokens, costMicros: row.cost_micros,
    argsHash: row.args_hash, args: row.args, outputHash: row.output_hash, output: row.output, userId: row.user_id, sessionId: row.session_id,
    edge: row.edge_kind === null || row.edge_target_run === null ? null : { kind: row.edge_kind, targetRunId: row.edge_target_run, targetTreeId: row.edge_target_tree },
    attributes: row.attributes,
  };
}

export function openBreakerView(row: OpenBreakerRow): z.output<typeof openBreaker> {
  return { scope: row.scope, target: row.target, treeId: row.tree_id, action: row.action, source: row.source, detector: row.detector, message: row.message, eventId: row.event_id, since: iso(row.since_ms) };
}

export function apiKeyViewOf(key: ApiKeyRecord): z.output<typeof apiKeyView> {
  return {
    keyId: key.keyId, tenantId: key.tenantId, role: key.role, name: key.name, createdAt: iso(key.createdAtMs), createdBy: key.createdBy,
    revokedAt: key.revokedAtMs === null ? null : iso(key.revokedAtMs),
  };
}
