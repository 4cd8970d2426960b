import avro from 'avsc';
import { loadAvsc } from './load.js';
import { describe, expect, it } from 'vitest';
import { createCodec, parseSchema, rabinFingerprint64, SchemaError, spanEventAvsc, spanEventCodec, spanEventSchema, controlEventCodec, breakerEventCodec, policyEventCodec, controlEventAvsc, breakerEventAvsc, policyEventAvsc, controlEventSchema, breakerEventSchema, policyEventSchema, agentSignalAvsc, agentSignalSchema, tenantSpendAvsc, tenantSpendSchema } from './index.js';

const span = spanEventSchema.parse({
  eventId: 'e-1', tenantId: 't-1', agentId: 'a-1', runId: 'r-1', treeId: 'r-1', spanId: 's-1',
  kind: 'tool_call', name: 'search', status: 'error', error: 'timeout',
  startTimeMs: 1_700_000_000_000, endTimeMs: 1_700_000_000_250, costMicros: 1_500_000,
  argsHash: 'abc', edge: { kind: 'spawn', targetRunId: 'r-2' }, attributes: { k: 'v' },
});

function thrown(fn: () => unknown): SchemaError {
  try { fn(); } catch (e) { return e as SchemaError; }
  throw new Error('expected a throw');
}

describe('CRC-64-AVRO fingerprint', () => {
  // Expected values printed by Apache Avro 1.11.3's SchemaNormalization.parsingFingerprint64.
  it.each([
    ['"null"', 7195948357588979594n],
    ['{"name":"a.B","type":"record","fields":[{"name":"x","type":["null","long"]},{"name":"k","type":{"name":"a.K","type":"enum","symbols":["p","q"]}}]}', -8289311999738254282n],
  ])('matches the Java reference for %s', (text, signed) => {
    expect(BigInt.asIntN(64, rabinFingerprint64(text))).toBe(signed);
  });

  it('fingerprints avsc\'s canonical form, which matches Avro\'s Parsing Canonical Form', () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'a.B', fields: [{ name: 'x', type: ['null', 'long'], default: null }, { name: 'k', type: { type: 'enum', name: 'K', symbols: ['p', 'q'] } }] } as avro.Schema);
    expect(JSON.stringify(type.schema())).toBe('{"name":"a.B","type":"record","fields":[{"name":"x","type":["null","long"]},{"name":"k","type":{"name":"a.K","type":"enum","symbols":["p","q"]}}]}');
  });
});

describe('single-object codec', () => {
  it('round-trips every event type', () => {
    expect(spanEventCodec.decode(spanEventCodec.encode(span))).toEqual(span);
    const control = controlEventSchema.parse({ eventId: 'c', tenantId: 't', scope: 'run', target: 'r', treeId: 'tr', action: 'trip', reason: { detector: 'loop', threshold: 3, observed: 3, message: 'm' }, policyId: 'p', policyVersion: 1, timeMs: 5 });
    expect(controlEventCodec.decode(controlEventCodec.encode(control))).toEqual(control);
    const breaker = breakerEventSchema.parse({ eventId: 'b', tenantId: 't', agentId: 'a', runId: 'r', treeId: 'tr', scope: 'run', target: 'r', action: 'trip', detector: 'loop', threshold: 3, observed: 3, policyId: 'p', policyVersion: 1, lastAction: 'tool_call search', triggerEventId: 'e', stepsElapsed: 3, runCostMicros: 10, treeCostMicros: 20, message: 'm', timeMs: 9 });
    expect(breakerEventCodec.decode(breakerEventCodec.encode(breaker))).toEqual(breaker);
    const policy = policyEventSchema.parse({ policyId: 'p', version: 2, tenantId: 't', selector: { agentId: 'a' }, detector: 'loop', params: { threshold: '4' }, disposition: 'block', changedBy: 'ops', changedAtMs: 1 });
    expect(policyEventCodec.decode(policyEventCodec.encode(policy))).toEqual(policy);
  });

  it('writes the C3 01 marker and the schema fingerprint little-endian', () => {
    const bytes = spanEventCodec.encode(span);
    expect([bytes[0], bytes[1]]).toEqual([0xc3, 0x01]);
    expect(bytes.subarray(2, 10)).toEqual(parseSchema(spanEventAvsc).fingerprint);
  });

  it('encodes each value into bytes of its own, whatever its size: the same bytes as header + avsc body', () => {
    const large = { ...span, args: 'a'.repeat(16_384), output: 'o'.repeat(16_384), attributes: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(100)])) };
    const small = spanEventCodec.encode(span);
    const big = spanEventCodec.encode(large);
    const after = spanEventCodec.encode({ ...span, eventId: 'e-2' });
    for (const [bytes, value] of [[small, span], [big, large]] as const) {
      expect(bytes).toEqual(Buffer.concat([bytes.subarray(0, 10), avro.Type.forSchema(spanEventAvsc as avro.Schema).toBuffer(value)]));
      expect(spanEventCodec.decode(bytes)).toEqual(value);
    }
    expect(spanEventCodec.decode(after).eventId).toBe('e-2');
  });

  it('keeps money as integer micro-USD', () => {
    expect(spanEventCodec.decode(spanEventCodec.encode({ ...span, costMicros: 123_456_789_012 })).costMicros).toBe(123_456_789_012);
    expect(thrown(() => spanEventCodec.encode({ ...span, costMicros: 1.5 })).code).toBe('INVALID_EVENT');
  });

  it('resolve SpanEvent v1 > v2: a v1 payload is read by a v2 reader that added an optional field', () => {
    const v2 = structuredClone(spanEventAvsc) as { fields: object[] };
    v2.fields.push({ name: 'region', type: ['null', 'string'], default: null });
    const v2Codec = createCodec<Record<string, unknown>>('SpanEvent', v2, [spanEventAvsc]);
    const read = v2Codec.decode(spanEventCodec.encode(span));
    expect(read).toEqual({ ...span, region: null });
    // ... and the v2 writer's own bytes are unknown to a v1-only reader: a specific error, not garbage.
    const error = thrown(() => spanEventCodec.decode(v2Codec.encode({ ...span, region: 'eu' })));
    expect(error).toBeInstanceOf(SchemaError);
    expect(error.code).toBe('UNKNOWN_FINGERPRINT');
  });

  it('resolve PolicyEvent v1 > v2: a policy written before selector.runId existed reads as runId null', () => {
    const v1 = createCodec<Record<string, unknown>>('PolicyEvent', loadAvsc('PolicyEvent.v1.avsc'));
    const written = { policyId: 'p', version: 1, tenantId: 't', selector: { agentId: 'a', tags: ['prod'] }, detector: 'loop', params: {}, disposition: 'warn', enabled: true, changedBy: 'ops', changedAtMs: 5 };
    expect(policyEventCodec.decode(v1.encode(written))).toEqual({ ...written, selector: { ...written.selector, runId: null } });
  });

  it('rejects garbage bytes, truncation and trailing bytes with specific codes', () => {
    expect(thrown(() => spanEventCodec.decode(Buffer.from('{"eventId":"x"}'))).code).toBe('NOT_SINGLE_OBJECT');
    expect(thrown(() => spanEventCodec.decode(Buffer.alloc(0))).message).toMatch(/empty message/);
    const good = spanEventCodec.encode(span);
    expect(thrown(() => spanEventCodec.decode(good.subarray(0, good.length - 5))).code).toBe('MALFORMED_PAYLOAD');
    expect(thrown(() => spanEventCodec.decode(Buffer.concat([good, Buffer.from([1, 2])]))).message).toMatch(/2 unexpected trailing bytes/);
    const unknown = Buffer.from(good);
    unknown.writeBigUInt64LE(42n, 2);
    expect(thrown(() => spanEventCodec.decode(unknown)).code).toBe('UNKNOWN_FINGERPRINT');
  });

  it('names the field that does not fit on encode', () => {
    const error = thrown(() => spanEventCodec.encode({ ...span, kind: 'bogus' as never }));
    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toMatch(/kind: "bogus"/);
  });
});

describe('zod mirrors', () => {
  it.each([
    ['SpanEvent', spanEventAvsc, spanEventSchema],
    ['ControlEvent', controlEventAvsc, controlEventSchema],
    ['BreakerEvent', breakerEventAvsc, breakerEventSchema],
    ['PolicyEvent', policyEventAvsc, policyEventSchema],
    ['AgentSignal', agentSignalAvsc, agentSignalSchema],
    ['TenantSpend', tenantSpendAvsc, tenantSpendSchema],
  ] as const)('%s has exactly the Avro fields', (_name, avsc, schema) => {
    const avroFields = (avsc as { fields: { name: string }[] }).fields.map((f) => f.name).sort();
    const shape = 'shape' in schema ? schema.shape : (schema as unknown as { def: { schema: { shape: object } } }).def.schema.shape;
    expect(Object.keys(shape).sort()).toEqual(avroFields);
  });

  it('fills defaults and names the failing field', () => {
    const result = spanEventSchema.safeParse({ ...span, endTimeMs: 1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['endTimeMs']);
    expect(spanEventSchema.safeParse({ ...span, costMicros: -1 }).error?.issues[0]?.path).toEqual(['costMicros']);
  });
});
