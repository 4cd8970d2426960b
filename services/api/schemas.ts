/**
 * The API's request and answer shapes, in zod: validation at the edge, the handlers' types and
 * the OpenAPI document all come from these. Times are ISO 8601 in answers; requests take ISO
 * 8601 or epoch milliseconds. Money is integer micro-USD (`costMicros`) with an exact dollar
 * string beside it in reports.
 */
import { z } from 'zod';
import { RUN_STATUSES } from '../../storage/tables/runs.js';
import { COST_DIMENSION_NAMES, type CostDimension } from '../../storage/tables/cost-ledger.js';
import { ROLES } from './auth/roles.js';

/**
 * A time as epoch milliseconds, from epoch milliseconds, an ISO 8601 time with a zone
 * (2026-03-01T00:00:00Z) or a date (2026-03-01, midnight UTC). A time without a zone is refused:
 * whose midnight would it be?
 */
export function parseTime(text: string): number | null {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const match = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([zZ]|[+-]\d{2}:?\d{2}))?$/.exec(text);
  if (!match) return null;
  const ms = Date.parse(match[4] ? text : `${text}T00:00:00Z`);
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls 2026-02-30 over into March: a calendar date that does not exist is refused.
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const probe = new Date(Date.UTC(year, month - 1, day));
  return probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day ? ms : null;
}

export const timeParam = z.string().transform((text, ctx) => {
  const ms = parseTime(text);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `expected epoch milliseconds, an ISO 8601 time with a zone (2026-03-01T00:00:00Z) or a date (2026-03-01), got '${text}'` });
    return z.NEVER;
  }
  return ms;
}).meta({ description: 'epoch milliseconds, ISO 8601 time with a zone, or a date (midnight UTC)' });

export { iso } from './iso.js';

const id = z.string().min(1).max(256);
export const limitParam = (defaultSize: number) => z.coerce.number().int().min(1).max(1000).default(defaultSize).meta({ description: 'page size, 1 to 1000' });
export const cursorParam = z.string().max(2048).optional().meta({ description: 'nextCursor of the previous page' });
const booleanParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Rejects an empty or inverted range: `to` must come after `from`. */
export function checkRange<T extends { from?: number; to?: number }>(value: T, ctx: z.core.$RefinementCtx<T>): void {
  if (value.from !== undefined && value.to !== undefined && value.to <= value.from) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  }
}

// ---- params

export const runParams = z.strictObject({ runId: id });
export const treeParams = z.strictObject({ treeId: id });
export const agentParams = z.strictObject({ agentId: id });
export const keyParams = z.strictObject({ keyId: z.string().regex(/^[0-9a-f]{16}$/, { message: 'expected the 16 hex digits of a key id' }) });

// ---- runs

export const runListQuery = z.strictObject({
  agent: id.optional(),
  status: z.enum(RUN_STATUSES).optional(),
  from: timeParam.optional().meta({ description: 'runs that started at or after this time' }),
  to: timeParam.optional().meta({ description: 'runs that started before this time' }),
  tripped: booleanParam.optional().meta({ description: 'only runs a breaker tripped on (true) or never did (false)' }),
  limit: limitParam(100),
  cursor: cursorParam,
}).superRefine(checkRange);

const usage = {
  spans: z.number().int(),
  steps: z.number().int().meta({ description: 'spans other than run_start and run_end' }),
  costMicros: z.number().int().meta({ description: 'integer micro-USD of the priced spans' }),
  unpricedSpans: z.number().int().meta({ description: 'model calls with no cost: not zero, unknown' }),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cachedTokens: z.number().int(),
};

export const runSummary = z.object({
  runId: z.string(),
  treeId: z.string(),
  agentId: z.string(),
  parentRunId: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  startTime: z.string(),
  lastTime: z.string(),
  errors: z.number().int(),
  trips: z.number().int(),
  ...usage,
}).meta({ id: 'RunSummary' });

export const runList = z.object({ runs: z.array(runSummary), nextCursor: z.string().nullable() });

export const trip = z.object({
  eventId: z.string(),
  time: z.string(),
  agentId: z.string(),
  runId: z.string(),
  treeId: z.string(),
  scope: z.string(),
  target: z.string(),
  action: z.string(),
  detector: z.string(),
  threshold: z.number().int(),
  observed: z.number().int(),
  windowMs: z.number().int().nullable(),
  policyId: z.string(),
  policyVersion: z.number().int(),
  lastAction: z.string(),
  triggerEventId: z.string(),
  stepsElapsed: z.number().int(),
  runCostMicros: z.number().int(),
  treeCostMicros: z.number().int(),
  message: z.string(),
}).meta({ id: 'Trip' });

export const runDetail = z.object({ run: runSummary, trips: z.array(trip) });

export const spanListQuery = z.strictObject({ limit: limitParam(100), cursor: cursorParam });

export const spanView = z.object({
  eventId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().nullable(),
  agentId: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  error: z.string().nullable(),
  startTime: z.string(),
  endTime: z.string(),
  model: z.string().nullable(),
  provider: z.string().nullable(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cachedTokens: z.number().int(),
  costMicros: z.number().int().nullable(),
  argsHash: z.string().nullable(),
  args: z.string().nullable(),
  outputHash: z.string().nullable(),
  output: z.string().nullable(),
  userId: z.string().nullable(),
  sessionId: z.string().nullable(),
  edge: z.object({ kind: z.string(), targetRunId: z.string(), targetTreeId: z.string().nullable() }).nullable(),
  attributes: z.record(z.string(), z.string()),
}).meta({ id: 'Span' });

export const spanList = z.object({ spans: z.array(spanView), nextCursor: z.string().nullable() });

// ---- graph

export const graphNode = z.object({
  runId: z.string(),
  agentId: z.string().nullable(),
  parentRunId: z.string().nullable(),
  status: z.enum([...RUN_STATUSES, 'pending']).meta({ description: 'pending: a spawn edge names the run, none of its spans is stored yet' }),
  depth: z.number().int().nullable().meta({ description: 'spawn depth, 0 for a root; null when no root reaches the run' }),
  errors: z.number().int(),
  startTime: z.string().nullable(),
  lastTime: z.string().nullable(),
  ...usage,
}).meta({ id: 'GraphNode' });

export const graphEdge = z.object({
  sourceRunId: z.string(),
  targetRunId: z.string(),
  kind: z.string().meta({ description: 'spawn, signal_fire, domain_callback or cross_session_bridge' }),
  targetTreeId: z.string().nullable(),
  eventId: z.string().nullable().meta({ description: 'the span that recorded the edge; null when implied by parentRunId' }),
  time: z.string().nullable(),
}).meta({ id: 'GraphEdge' });

export const graph = z.object({ treeId: z.string(), nodes: z.array(graphNode), edges: z.array(graphEdge) }).meta({ id: 'CausalGraph' });

// ---- breakers

export const tripListQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  detector: z.string().min(1).max(64).optional(),
  agent: id.optional(),
  run: id.optional(),
  tree: id.optional(),
  limit: limitParam(100),
  cursor: cursorParam,
}).superRefine(checkRange);

export const tripList = z.object({ trips: z.array(trip), nextCursor: z.string().nullable() });

export const openBreaker = z.object({
  scope: z.string(),
  target: z.string(),
  treeId: z.string().nullable(),
  action: z.string().meta({ description: 'trip (a detector) or kill (an operator halt)' }),
  source: z.enum(['detector', 'operator']),
  detector: z.string(),
  message: z.string(),
  eventId: z.string(),
  since: z.string(),
}).meta({ id: 'OpenBreaker' });

export const openBreakerList = z.object({ breakers: z.array(openBreaker) });

export const controlBody = z.strictObject({
  reason: z.string().min(1).max(1000).optional().meta({ description: 'why, shown to the halted agent' }),
});

export const controlResult = z.object({
  controlEventId: z.string(),
  scope: z.enum(['run', 'tree', 'agent']),
  target: z.string(),
  treeId: z.string().nullable(),
  action: z.enum(['kill', 'reset']),
  messages: z.number().int().meta({ description: 'copies published: 1, or one per control partition for an agent' }),
}).meta({ id: 'ControlResult' });

// ---- reports

export const costDimensionList = z.string().transform((text, ctx) => {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = names.filter((n) => !(COST_DIMENSION_NAMES as string[]).includes(n));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', message: `unknown dimension '${unknown[0]}'; choose from ${COST_DIMENSION_NAMES.join(', ')}` });
    return z.NEVER;
  }
  if (new Set(names).size !== names.length) {
    ctx.addIssue({ code: 'custom', message: 'a dimension is named twice' });
    return z.NEVER;
  }
  return names as CostDimension[];
}).meta({ description: `comma-separated, any of: ${COST_DIMENSION_NAMES.join(', ')}` });

export const costReportQuery = z.strictObject({
  from: timeParam.meta({ description: 'spans that started at or after this time' }),
  to: timeParam.meta({ description: 'spans that started before this time' }),
  by: costDimensionList.optional(),
  tree: id.optional(),
  agent: id.optional(),
  format: z.enum(['json', 'csv']).default('json'),
}).superRefine(checkRange);

export const costReportRow = z.object({
  group: z.record(z.string(), z.string().nullable()).meta({ description: 'the row\'s value of each requested dimension; null where spans had none' }),
  costUsd: z.string().meta({ description: 'costMicros as an exact dollar amount' }),
  ...usage,
}).meta({ id: 'CostReportRow' });

export const costReport = z.object({
  from: z.string(),
  to: z.string(),
  by: z.array(z.enum(COST_DIMENSION_NAMES as [CostDimension, ...CostDimension[]])),
  rows: z.array(costReportRow),
  totals: costReportRow.omit({ group: true }),
}).meta({ id: 'CostReport' });

// ---- keys and audit

export const createKeyBody = z.strictObject({
  role: z.enum(ROLES),
  name: z.string().min(1).max(200).default(''),
});

export const apiKeyView = z.object({
  keyId: z.string(),
  tenantId: z.string(),
  role: z.string(),
  name: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().nullable(),
}).meta({ id: 'ApiKey' });

export const createdKey = apiKeyView.extend({ key: z.string().meta({ description: 'the key itself: shown this once, never stored' }) });
export const keyList = z.object({ keys: z.array(apiKeyView) });

export const accessLogQuery = z.strictObject({ flagged: booleanParam.optional(), limit: limitParam(100) });
export const accessLogList = z.object({
  entries: z.array(z.object({
    time: z.string(), requestId: z.string(), keyId: z.string(), role: z.string(), method: z.string(), route: z.string(),
    resourceType: z.string(), resourceId: z.string(), statusCode: z.number().int(), flagged: z.boolean(), flagReason: z.string(),
  })),
});

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
}).meta({ id: 'Error' });
