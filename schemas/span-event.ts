import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';
import { readSpanBody, readsSchema } from './span-reader.js';

export const SPAN_KINDS = ['run_start', 'run_end', 'llm_call', 'tool_call', 'retrieval', 'spawn', 'signal', 'human_gate', 'custom'] as const;
export const SPAN_STATUSES = ['ok', 'error', 'unset'] as const;
export const EDGE_KINDS = ['spawn', 'signal_fire', 'domain_callback', 'cross_session_bridge'] as const;

const id = z.string().min(1).max(256);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const optionalText = (max: number) => z.string().max(max).nullable().default(null);

/** The zod mirror of schemas/avro/SpanEvent.v1.avsc, for JSON edges (HTTP, OTLP, files). */
export const spanEventSchema = z.object({
  eventId: id,
  tenantId: id,
  agentId: id,
  runId: id,
  parentRunId: id.nullable().default(null),
  treeId: id,
  spanId: id,
  parentSpanId: id.nullable().default(null),
  kind: z.enum(SPAN_KINDS),
  name: z.string().min(1).max(512),
  status: z.enum(SPAN_STATUSES).default('unset'),
  error: optionalText(4096),
  startTimeMs: count,
  endTimeMs: count,
  model: optionalText(256),
  provider: optionalText(256),
  inputTokens: count.default(0),
  outputTokens: count.default(0),
  cachedTokens: count.default(0),
  /** Integer micro-USD. Never float dollars: $1.50 is 1_500_000. */
  costMicros: count.nullable().default(null),
  argsHash: optionalText(128),
  args: optionalText(16_384),
  outputHash: optionalText(128),
  output: optionalText(16_384),
  userId: optionalText(256),
  sessionId: optionalText(256),
  edge: z
    .object({ kind: z.enum(EDGE_KINDS), targetRunId: id, targetTreeId: id.nullable().default(null) })
    .nullable()
    .default(null),
  attributes: z.record(z.string(), z.string()).default({}),
}).refine((e) => e.endTimeMs >= e.startTimeMs, { message: 'endTimeMs must not be before startTimeMs', path: ['endTimeMs'] });

export type SpanEvent = z.output<typeof spanEventSchema>;
export type SpanKind = (typeof SPAN_KINDS)[number];

export const spanEventAvsc = loadAvsc('SpanEvent.v1.avsc');
// The processor and the sink decode every span: the current schema's bodies are read by hand.
export const spanEventCodec = createCodec<SpanEvent>('SpanEvent', spanEventAvsc, [], { readsSchema, read: readSpanBody });
