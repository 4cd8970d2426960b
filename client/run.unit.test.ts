import { describe, expect, it } from 'vitest';
import { spanEventSchema, type SpanEvent } from '../schemas/index.js';
import { checkSuppliedFields } from './run.js';
import { RejectedEvent } from './errors.js';

const base: SpanEvent = spanEventSchema.parse({
  eventId: 'e', tenantId: 't', agentId: 'a', runId: 'r', treeId: 'r', spanId: 's', kind: 'llm_call', name: 'gpt-4o', startTimeMs: 1, endTimeMs: 2,
});

const candidates: Record<string, unknown[]> = {
  name: ['x', '', 'y'.repeat(512), 'y'.repeat(513), null, 7],
  model: [null, 'gpt-4o', '', 'm'.repeat(256), 'm'.repeat(257), 3],
  provider: [null, 'openai', 'p'.repeat(257)],
  inputTokens: [0, 12, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, Number.NaN, '12', null],
  outputTokens: [0, 40, -3, Number.POSITIVE_INFINITY],
  cachedTokens: [0, 5, -1],
  costMicros: [null, 0, 2_500, -1, 0.5, '2500'],
};

describe('checks of agent-supplied span fields', () => {
  it('accepts exactly what the span schema accepts, field by field', () => {
    for (const [field, values] of Object.entries(candidates)) {
      for (const value of values) {
        const zodAccepts = spanEventSchema.safeParse({ ...base, [field]: value }).success;
        const accepted = (() => { try { checkSuppliedFields({ ...base, [field]: value } as SpanEvent); return true; } catch { return false; } })();
        expect(accepted, `${field} = ${JSON.stringify(value)}`).toBe(zodAccepts);
      }
    }
  });

  it('names the field and the rule in a RejectedEvent', () => {
    expect(() => checkSuppliedFields({ ...base, inputTokens: -5 })).toThrow(RejectedEvent);
    expect(() => checkSuppliedFields({ ...base, inputTokens: -5 })).toThrow(/span 'gpt-4o' rejected: inputTokens: .*>=0/);
    expect(() => checkSuppliedFields({ ...base, model: 'm'.repeat(300) })).toThrow(/rejected: model: .*256/);
  });
});
