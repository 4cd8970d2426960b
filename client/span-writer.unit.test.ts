import { describe, expect, it } from 'vitest';
import { spanEventCodec, type SpanEvent } from '../schemas/index.js';
import { NOT_PLAIN, NO_ROOM, writeSpanBody, writesSchema } from './span-writer.js';

const base: SpanEvent = {
  eventId: '6f1c1a52-7f0e-4c8e-9d1e-0b7c2f0d9a11', tenantId: 'acme', agentId: 'researcher', runId: 'run-1', parentRunId: null, treeId: 'run-1', spanId: 's-1', parentSpanId: null,
  kind: 'tool_call', name: 'web_search', status: 'ok', error: null, startTimeMs: 1_763_000_000_000, endTimeMs: 1_763_000_000_123,
  model: null, provider: null, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: null, argsHash: null, args: null,
  outputHash: null, output: null, userId: null, sessionId: null, edge: null, attributes: {},
};

/** The plain case in its variety: every optional field set and unset, lengths around avsc's 64-byte switch, longs around the int32 switch. */
const plain: Array<[string, Partial<SpanEvent>]> = [
  ['all defaults', {}],
  ['every optional field set', { parentRunId: 'run-0', parentSpanId: 's-0', error: 'Error: boom', model: 'gpt-4o', provider: 'openai', inputTokens: 900, outputTokens: 40, cachedTokens: 12, costMicros: 2_500, argsHash: 'a'.repeat(64), args: '{"q":"x"}', outputHash: 'h', output: 'out', userId: 'u', sessionId: 'sess' }],
  ['an edge without a target tree', { kind: 'signal', edge: { kind: 'signal_fire', targetRunId: 'run-x', targetTreeId: null } }],
  ['an edge with a target tree', { kind: 'spawn', edge: { kind: 'spawn', targetRunId: 'run-y', targetTreeId: 'run-1' } }],
  ['attributes', { attributes: { 'fusebox.agent.tags': 'prod,eu', mine: '1', 'fusebox.refused': 'scope' } }],
  ['63-character strings', { name: 'n'.repeat(63), error: 'e'.repeat(63) }],
  ['long ASCII strings', { args: 'x'.repeat(65), output: 'y'.repeat(16_384), name: 'z'.repeat(512) }],
  ['long non-ASCII strings', { args: `${'é'.repeat(70)}✓😀`, output: '日本語'.repeat(30) }],
  ['costs of zero', { costMicros: 0, inputTokens: 0 }],
  ['longs across the int32 switch', { inputTokens: 1_073_741_823, outputTokens: 1_073_741_824, cachedTokens: 2 ** 40 + 3, costMicros: Number.MAX_SAFE_INTEGER - 1, startTimeMs: 0, endTimeMs: 2 ** 53 - 2 }],
  ['every kind and status', { kind: 'human_gate', status: 'unset' }],
];

function body(span: SpanEvent, room = 65_536): Buffer | number {
  const bytes = Buffer.alloc(room);
  const end = writeSpanBody(span, bytes, 3);
  return end < 0 ? end : bytes.subarray(3, end);
}

describe('span writer', () => {
  it('was written for the schema the codec writes', () => {
    expect(writesSchema(spanEventCodec.fingerprint)).toBe(true);
    expect(writesSchema('0000000000000000')).toBe(false);
  });

  it.each(plain)('given %s, writes exactly the bytes avsc writes', (_name, over) => {
    const span = { ...base, ...over };
    expect(body(span)).toEqual(spanEventCodec.encode(span).subarray(10));
  });

  it.each<[string, Partial<SpanEvent>]>([
    ['a short non-ASCII name', { name: 'café' }],
    ['a short string with a lone surrogate', { name: 'a\ud800b' }],
    ['a token count that is not an integer', { inputTokens: 1.5 }],
    ['a long beyond what avsc writes', { costMicros: Number.MAX_SAFE_INTEGER }],
    ['a missing optional field', { model: undefined as unknown as null }],
    ['an unknown kind', { kind: 'bogus' as SpanEvent['kind'] }],
    ['an attribute that is not a string', { attributes: { n: 1 as unknown as string } }],
  ])('given %s, leaves the span to avsc', (_name, over) => {
    expect(body({ ...base, ...over })).toBe(NOT_PLAIN);
  });

  it('given too little room, says so rather than write past the end', () => {
    expect(body(base, 100)).toBe(NO_ROOM);
    expect(body({ ...base, args: 'x'.repeat(5_000) }, 4_000)).toBe(NO_ROOM);
  });
});
