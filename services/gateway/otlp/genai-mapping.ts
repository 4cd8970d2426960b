/**
 * OpenTelemetry spans to SpanEvents, following the GenAI semantic conventions, so an agent
 * already instrumented with OpenTelemetry is governed with no Fusebox code. Pure: one span (with
 * its resource and scope) in, one SpanEvent draft out; the tenant is added by the caller from
 * the API key, and the draft is validated like any other span.
 *
 * Identity, per span and never from other spans (an exporter sends a run's spans in several
 * batches, children before the parent that ends last, so anything derived from a span's
 * ancestors would change from batch to batch):
 * - run and tree: the trace (one trace is one agent invocation), unless the span or its
 *   resource sets `fusebox.run.id` / `fusebox.tree.id`; `fusebox.parent_run.id` records the
 *   parent run (the spawn edge then follows from it);
 * - agent: `gen_ai.agent.id` on the span, else on the resource, else the resource's
 *   `service.name`;
 * - event id: `<trace id>:<span id>`, so a span re-sent by a retrying exporter is the same event.
 */
import type { SpanEvent, SpanKind } from '../../../schemas/index.js';
import { canonicalHash } from '../../../streams/canonical.js';
import type { AttributeValue, Attributes, OtlpSpanContext } from './model.js';

/** A SpanEvent before the tenant is known (it comes from the API key). */
export type SpanDraft = Omit<SpanEvent, 'tenantId'>;

/** `gen_ai.operation.name` values and the span kind each becomes; anything else is `custom`. */
export const OPERATION_KINDS: Readonly<Record<string, SpanKind>> = Object.freeze({
  chat: 'llm_call',
  text_completion: 'llm_call',
  generate_content: 'llm_call',
  embeddings: 'llm_call',
  execute_tool: 'tool_call',
  retrieval: 'retrieval',
});

/** Attributes turned into SpanEvent fields; the rest travel on in `attributes`. */
const CONSUMED = new Set([
  'gen_ai.operation.name', 'gen_ai.request.model', 'gen_ai.response.model', 'gen_ai.provider.name', 'gen_ai.system',
  'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.tool.name', 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'gen_ai.agent.id', 'gen_ai.conversation.id',
  'user.id', 'enduser.id', 'session.id', 'fusebox.run.id', 'fusebox.tree.id', 'fusebox.parent_run.id',
]);

const MAX_ATTRIBUTES = 64;
const MAX_ATTRIBUTE_TEXT = 1024;
const MAX_CAPTURED = 4096;

export function mapOtlpSpan({ resource, scope, span }: OtlpSpanContext): SpanDraft {
  const a = span.attributes;
  const operation = str(a['gen_ai.operation.name']);
  const kind = kindOf(operation, span.parentSpanId);
  const agentId = str(a['gen_ai.agent.id']) ?? str(resource['gen_ai.agent.id']) ?? str(resource['service.name']) ?? 'unknown_agent';
  const runId = str(a['fusebox.run.id']) ?? str(resource['fusebox.run.id']) ?? span.traceId;
  const treeId = str(a['fusebox.tree.id']) ?? str(resource['fusebox.tree.id']) ?? span.traceId;
  const status = span.statusCode === 2 ? 'error' : span.statusCode === 1 ? 'ok' : 'unset';
  const toolArguments = a['gen_ai.tool.call.arguments'];
  const toolResult = a['gen_ai.tool.call.result'];
  const isTool = kind === 'tool_call';

  return {
    eventId: `${span.traceId}:${span.spanId}`,
    agentId,
    runId,
    parentRunId: str(a['fusebox.parent_run.id']) ?? str(resource['fusebox.parent_run.id']) ?? null,
    treeId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    kind,
    name: nameOf(kind, span.name, a, agentId),
    status,
    error: status === 'error' ? errorText(span) : null,
    startTimeMs: span.startTimeMs,
    endTimeMs: span.endTimeMs,
    model: str(a['gen_ai.response.model']) ?? str(a['gen_ai.request.model']) ?? null,
    provider: str(a['gen_ai.provider.name']) ?? str(a['gen_ai.system']) ?? null,
    inputTokens: count(a['gen_ai.usage.input_tokens']),
    outputTokens: count(a['gen_ai.usage.output_tokens']),
    cachedTokens: count(a['gen_ai.usage.cache_read.input_tokens']),
    costMicros: null,
    argsHash: isTool && toolArguments !== undefined ? canonicalHash(parsedJson(toolArguments)) : null,
    args: isTool && toolArguments !== undefined ? truncate(asText(toolArguments), MAX_CAPTURED) : null,
    outputHash: isTool && toolResult !== undefined ? canonicalHash(parsedJson(toolResult)) : null,
    output: isTool && toolResult !== undefined ? truncate(asText(toolResult), MAX_CAPTURED) : null,
    userId: str(a['user.id']) ?? str(a['enduser.id']) ?? null,
    sessionId: str(a['gen_ai.conversation.id']) ?? str(a['session.id']) ?? null,
    edge: null,
    attributes: passThrough(a, resource, scope, operation),
  };
}

/** An `invoke_agent` span that is the trace's root is the run itself: its end is the run's end. */
function kindOf(operation: string | undefined, parentSpanId: string | null): SpanKind {
  if (operation === undefined) return 'custom';
  if (operation === 'invoke_agent' && parentSpanId === null) return 'run_end';
  return OPERATION_KINDS[operation] ?? 'custom';
}

function nameOf(kind: SpanKind, spanName: string, a: Attributes, agentId: string): string {
  const named = kind === 'tool_call' ? str(a['gen_ai.tool.name']) : kind === 'run_end' ? str(a['gen_ai.agent.name']) ?? agentId : undefined;
  return truncate(named ?? (spanName || 'unnamed'), 512);
}

/** The status message, else the first recorded exception, else the error type. */
function errorText(span: OtlpSpanContext['span']): string {
  if (span.statusMessage) return truncate(span.statusMessage, 4096);
  const exception = span.events.find((e) => e.name === 'exception');
  if (exception) {
    const type = str(exception.attributes['exception.type']);
    const message = str(exception.attributes['exception.message']);
    const textOf = [type, message].filter(Boolean).join(': ');
    if (textOf) return truncate(textOf, 4096);
  }
  return str(span.attributes['error.type']) ?? 'error';
}

/** Attributes not mapped to fields, as strings, bounded; plus where the span came from. */
function passThrough(a: Attributes, resource: Attributes, scope: { name: string }, operation: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const service = str(resource['service.name']);
  if (service) out['service.name'] = service;
  if (scope.name) out['otel.scope.name'] = truncate(scope.name, MAX_ATTRIBUTE_TEXT);
  if (operation && !OPERATION_KINDS[operation]) out['gen_ai.operation.name'] = operation;
  for (const [key, value] of Object.entries(a)) {
    if (CONSUMED.has(key) || Object.keys(out).length >= MAX_ATTRIBUTES) continue;
    // Defined, not assigned, as model.ts reads them: `__proto__` is a key like any other here.
    Object.defineProperty(out, key, { value: truncate(asText(value), MAX_ATTRIBUTE_TEXT), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function str(value: AttributeValue | undefined): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** Token counts: non-negative integers; anything else counts as not reported (0). */
function count(value: AttributeValue | undefined): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** Tool arguments usually arrive as a JSON string: hash the value, so key order and spacing do not matter. */
function parsedJson(value: AttributeValue): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function asText(value: AttributeValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function truncate(textValue: string, max: number): string {
  return textValue.length > max ? `${textValue.slice(0, max - 1)}…` : textValue;
}
