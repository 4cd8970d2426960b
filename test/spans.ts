/** Builds valid SpanEvents for tests: only what a case is about needs spelling out. */
import { spanEventSchema, type SpanEvent } from '../schemas/index.js';

let sequence = 0;

export function span(overrides: Partial<SpanEvent> & Pick<SpanEvent, 'kind' | 'name'>): SpanEvent {
  sequence += 1;
  const start = overrides.startTimeMs ?? 1_700_000_000_000 + sequence * 1000;
  return spanEventSchema.parse({
    eventId: `e-${sequence}`,
    tenantId: 'tenant-a',
    agentId: 'agent-1',
    runId: 'run-1',
    treeId: 'run-1',
    spanId: `s-${sequence}`,
    startTimeMs: start,
    endTimeMs: start + 100,
    ...overrides,
  });
}

export function toolCall(name: string, argsHash: string | null, outcome: { status?: 'ok' | 'error'; error?: string; outputHash?: string } = {}, extra: Partial<SpanEvent> = {}): SpanEvent {
  return span({ kind: 'tool_call', name, argsHash, status: outcome.status ?? 'error', error: outcome.error ?? (outcome.status === 'ok' ? null : 'HTTP 503'), outputHash: outcome.outputHash ?? null, ...extra });
}
