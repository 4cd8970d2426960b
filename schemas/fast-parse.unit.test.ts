/**
 * The fast parser accepts exactly what zod accepts, with the same output: every field of a valid
 * span replaced by each probe value (bounds on both sides, wrong types, NaN, ±Infinity, -0,
 * nested edges, attribute maps), removed keys, the end-before-start refinement; and a few
 * schemas with other bounds. Exotic inputs (a class instance, symbol keys) are left to zod.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileFastParser, NOT_ACCEPTED, UnsupportedSchemaError } from './fast-parse.js';
import { spanEventSchema } from './span-event.js';

const span = {
  eventId: 'e1', tenantId: 'acme', agentId: 'researcher', runId: 'r1', parentRunId: null, treeId: 't1', spanId: 's1', parentSpanId: 'p1',
  kind: 'tool_call', name: 'web_search', status: 'error', error: 'HTTP 503', startTimeMs: 1_700_000_000_000, endTimeMs: 1_700_000_000_250,
  model: null, provider: null, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: 1500, argsHash: 'abc', args: '{"q":1}',
  outputHash: null, output: null, userId: 'u1', sessionId: null, edge: { kind: 'spawn', targetRunId: 'r2', targetTreeId: null },
  attributes: { 'fusebox.agent.tags': 'a,b' },
};

const text = (n: number) => 'x'.repeat(n);
const PROBES: unknown[] = [
  undefined, null, '', 'a', text(128), text(129), text(256), text(257), text(512), text(513), text(4096), text(4097), text(16_384), text(16_385),
  0, -0, 1, -1, 1.5, 42, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e300, 1_700_000_000_000,
  true, false, [], ['a'], {}, new Date(0), '0', '12', 'llm_call', 'custom', 'thinking', 'ok', 'unset', 'spawn', 'signal_fire',
  { kind: 'spawn', targetRunId: 'r' }, { kind: 'domain_callback', targetRunId: 'r', targetTreeId: 't', extra: 1 }, { kind: 'nope', targetRunId: 'r' },
  { kind: 'spawn' }, { kind: 'spawn', targetRunId: '' }, { kind: 'spawn', targetRunId: 'r', targetTreeId: 5 },
  { a: 'b' }, { a: 1 }, { a: null }, { a: '' }, { [text(300)]: 'long key' }, { 1: 'numeric key', b: 'c' },
  JSON.parse('{"__proto__":"x","b":"c"}'), JSON.parse('{"__proto__":{"polluted":"yes"}}'), Object.assign(Object.create(null), { a: 'b' }),
];

const fastSpan = compileFastParser(spanEventSchema);

/** Both parsers on one input: the same verdict, and on acceptance the same value. */
function expectAgreement(parse: (input: unknown) => unknown, schema: z.ZodType, input: unknown): void {
  const fast = parse(input);
  const zod = schema.safeParse(input);
  expect(fast === NOT_ACCEPTED ? 'refused' : 'accepted').toBe(zod.success ? 'accepted' : 'refused');
  if (zod.success) expect(fast).toStrictEqual(zod.data);
}

describe('the fast span parser agrees with zod', () => {
  it('accepts the valid span with zod\'s output', () => {
    expect(fastSpan(span)).toStrictEqual(spanEventSchema.parse(span));
  });

  it.each(Object.keys(span))('on every probe value of %s', (field) => {
    for (const probe of PROBES) expectAgreement(fastSpan, spanEventSchema, { ...span, [field]: probe });
  });

  it.each(Object.keys(span))('with %s absent (defaults filled in, required keys refused)', (field) => {
    const { [field]: _gone, ...rest } = span as Record<string, unknown>;
    expectAgreement(fastSpan, spanEventSchema, rest);
  });

  it.each([
    ['end before start', { startTimeMs: 10, endTimeMs: 9 }],
    ['end equal to start', { startTimeMs: 10, endTimeMs: 10 }],
    ['unknown keys, stripped', { extra: 'x', another: { deep: 1 } }],
    ['only the required keys', { parentRunId: undefined, status: undefined, edge: undefined, attributes: undefined, costMicros: undefined }],
    ['an edge that is null', { edge: null }],
  ])('%s', (_case, overrides) => {
    expectAgreement(fastSpan, spanEventSchema, { ...span, ...overrides });
  });

  it.each([null, undefined, 'span', 42, [], [span]])('a root of %j', (root) => {
    expectAgreement(fastSpan, spanEventSchema, root);
  });

  it('reads a patch as the copy { ...input, ...patch } (the tenant from the API key)', () => {
    const { tenantId: _tenant, ...withoutTenant } = span;
    for (const input of [withoutTenant, span, { ...span, tenantId: 'other' }, { ...withoutTenant, kind: 'bogus' }]) {
      const fast = fastSpan(input, { tenantId: 'acme' });
      const zod = spanEventSchema.safeParse({ ...input, tenantId: 'acme' });
      expect(fast === NOT_ACCEPTED ? null : fast).toStrictEqual(zod.success ? zod.data : null);
    }
  });

  it('leaves inputs it cannot vouch for to zod: a class instance with a patch, symbol keys in a record', () => {
    class Span { constructor() { Object.assign(this, span); } }
    expect(fastSpan(new Span(), { tenantId: 'acme' })).toBe(NOT_ACCEPTED);
    expect(fastSpan({ ...span, attributes: { a: 'b', [Symbol('s')]: 'c' } })).toBe(NOT_ACCEPTED);
  });

  it('hands out a fresh object for a default, like zod', () => {
    const { attributes: _a, ...rest } = span;
    const first = fastSpan(rest) as { attributes: Record<string, string> };
    first.attributes.mutated = 'yes';
    expect((fastSpan(rest) as { attributes: Record<string, string> }).attributes).toEqual({});
  });
});

describe('other bounds', () => {
  it.each([
    ['exclusive bounds', z.number().gt(0).lt(10)],
    ['inclusive bounds and an integer', z.number().int().min(-5).max(5)],
    ['a positive number', z.number().positive()],
    ['a plain number', z.number()],
    ['a bounded string', z.string().min(2).max(3)],
    ['a nullable enum with a default', z.enum(['a', 'b']).nullable().default('a')],
    ['a refined string record', z.record(z.string(), z.string().min(1)).refine((r) => Object.keys(r).length < 2, 'at most one key')],
  ])('%s', (_case, schema) => {
    const parse = compileFastParser(schema as z.ZodType);
    for (const probe of [...PROBES, -5, -6, 5, 6, 9.999, 10, 0.0001, 'ab', 'abc', 'abcd', 'a', 'b', 'c', { a: 'b', c: 'd' }]) {
      expectAgreement(parse, schema as z.ZodType, probe);
    }
  });
});

describe('schemas it does not know are refused when compiled, never guessed', () => {
  it.each([
    ['a string format', z.object({ mail: z.email() }), 'mail'],
    ['a regex', z.object({ id: z.string().regex(/^a/) }), 'id'],
    ['an optional key', z.object({ note: z.string().optional() }), 'note'],
    ['a strict object', z.strictObject({ a: z.string() }), '(root)'],
    ['a union', z.object({ v: z.union([z.string(), z.number()]) }), 'v'],
    ['a refined string', z.object({ s: z.string().refine((s) => s !== 'x') }), 's'],
    ['a coercing number', z.object({ n: z.coerce.number() }), 'n'],
  ])('%s', (_case, schema, path) => {
    expect(() => compileFastParser(schema as z.ZodType)).toThrow(UnsupportedSchemaError);
    expect(() => compileFastParser(schema as z.ZodType)).toThrow(path);
  });
});
