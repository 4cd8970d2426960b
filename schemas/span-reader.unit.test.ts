import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { SchemaError } from './errors.js';
import { EDGE_KINDS, SPAN_KINDS, SPAN_STATUSES, spanEventAvsc, spanEventCodec, type SpanEvent } from './span-event.js';
import { cacheSlot, readSpanBody, readsSchema } from './span-reader.js';

const avsc = avro.Type.forSchema(spanEventAvsc as avro.Schema);
const HEADER = 10;

/** What avsc reads from the same body, as data (its record classes aside). */
const byAvsc = (body: Buffer) => JSON.parse(JSON.stringify(avsc.fromBuffer(body))) as SpanEvent;
const same = (bytes: Buffer) => {
  const fast = readSpanBody(bytes, 0);
  expect(fast).toBeDefined();
  expect(fast!.end).toBe(bytes.length);
  // Same values and the same key order (a JSON text compares both).
  expect(JSON.stringify(fast!.value)).toBe(JSON.stringify(byAvsc(bytes)));
};

function randomSpans(count: number, seed = 7): SpanEvent[] {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(from: readonly T[]) => from[Math.floor(random() * from.length)]!;
  const texts = ['', 'a', 'tenant-007', 'web_search', 'é', '日本語 🚀', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'long '.repeat(400), '\u0000nul'];
  const maybe = <T>(value: T) => (random() < 0.5 ? null : value);
  const long = () => pick([0, 1, 63, 64, 127, 128, 8191, 8192, 2 ** 31 - 1, 2 ** 31, 1_700_000_000_000, 2 ** 45, 2 ** 46]);
  return Array.from({ length: count }, (_, i) => {
    const start = long();
    const attributes: Record<string, string> = {};
    for (let k = Math.floor(random() * 4); k > 0; k--) attributes[pick(texts) + k] = pick(texts);
    return {
      eventId: `e-${i}`, tenantId: pick(texts) || 't', agentId: pick(texts) || 'a', runId: `r-${i}`, parentRunId: maybe(pick(texts)), treeId: pick(texts) || 'tree',
      spanId: `s-${i}`, parentSpanId: maybe('p'), kind: pick(SPAN_KINDS), name: pick(texts) || 'n', status: pick(SPAN_STATUSES), error: maybe(pick(texts)),
      startTimeMs: start, endTimeMs: start + long(), model: maybe(pick(texts)), provider: maybe(pick(texts)), inputTokens: long(), outputTokens: long(), cachedTokens: long(),
      costMicros: maybe(long()), argsHash: maybe(pick(texts)), args: maybe(pick(texts)), outputHash: maybe(pick(texts)), output: maybe(pick(texts)),
      userId: maybe(pick(texts)), sessionId: maybe(pick(texts)),
      edge: maybe({ kind: pick(EDGE_KINDS), targetRunId: pick(texts) || 'r', targetTreeId: maybe(pick(texts)) }), attributes,
    };
  });
}

describe('readSpanBody', () => {
  it('is written for the schema the codec uses', () => {
    expect(readsSchema(spanEventCodec.fingerprint)).toBe(true);
  });

  it('reads what avsc reads, value for value, for 3,000 varied spans (repeats served from its cache)', () => {
    for (const span of randomSpans(3_000)) same(avsc.toBuffer(span));
  });

  it('reads map blocks with a negative count and a byte size, as avsc does', () => {
    const span = randomSpans(1)[0]!;
    const plain = avsc.toBuffer({ ...span, attributes: {} });
    // The body ends with the map's closing 0: write one block of 2 entries as count -2, size, entries.
    const entries = Buffer.concat([avro.Type.forSchema('string').toBuffer('k1'), avro.Type.forSchema('string').toBuffer('v1'), avro.Type.forSchema('string').toBuffer('k2'), avro.Type.forSchema('string').toBuffer('v2')]);
    const body = Buffer.concat([plain.subarray(0, plain.length - 1), avro.Type.forSchema('long').toBuffer(-2), avro.Type.forSchema('long').toBuffer(entries.length), entries, Buffer.from([0])]);
    same(body);
    expect(readSpanBody(body, 0)!.value.attributes).toEqual({ k1: 'v1', k2: 'v2' });
  });

  it('leaves to avsc what it does not take: every truncation, bad indices, longs past 2^48, a __proto__ key', () => {
    const body = avsc.toBuffer(randomSpans(1, 3)[0]!);
    for (let cut = 0; cut < body.length; cut++) expect(readSpanBody(body.subarray(0, cut), 0)).toBeUndefined();
    const big = avsc.toBuffer({ ...randomSpans(1)[0]!, inputTokens: 2 ** 50 });
    expect(readSpanBody(big, 0)).toBeUndefined();
    expect(byAvsc(big).inputTokens).toBe(2 ** 50); // avsc reads it
    const proto = avsc.toBuffer({ ...randomSpans(1)[0]!, attributes: JSON.parse('{"__proto__": "x"}') });
    expect(readSpanBody(proto, 0)).toBeUndefined();
    // An enum index past the symbols: the kind is the first byte after four strings and a union.
    const span = { ...randomSpans(1)[0]!, eventId: 'e', tenantId: 't', agentId: 'a', runId: 'r', parentRunId: null, treeId: 't', spanId: 's', parentSpanId: null, kind: 'custom' as const };
    const bytes = avsc.toBuffer(span);
    const kindAt = 2 + 2 + 2 + 2 + 1 + 2 + 2 + 1;
    expect(bytes[kindAt]).toBe(SPAN_KINDS.indexOf('custom') * 2);
    bytes[kindAt] = SPAN_KINDS.length * 2;
    expect(readSpanBody(bytes, 0)).toBeUndefined();
    expect(() => avsc.fromBuffer(bytes)).toThrow(/enum index/);
    bytes[kindAt] = SPAN_KINDS.indexOf('custom') * 2;
    bytes[8] = 4; // parentSpanId's union branch: index 2 of a two-branch union
    expect(readSpanBody(bytes, 0)).toBeUndefined();
  });

  it('keeps cached strings apart from the message bytes they came from', () => {
    const tenantOf = (tenantId: string) => avsc.toBuffer({ ...randomSpans(1)[0]!, tenantId });
    // Another tenant id of the same length in the same cache slot.
    const slot = cacheSlot(Buffer.from('tenant-cached'));
    let other = '';
    for (let i = 0; other === ''; i++) if (cacheSlot(Buffer.from(`tenant-${String(i).padStart(6, '0')}`)) === slot) other = `tenant-${String(i).padStart(6, '0')}`;
    const message = tenantOf('tenant-cached');
    expect(readSpanBody(message, 0)!.value.tenantId).toBe('tenant-cached');
    message.set(tenantOf(other)); // the fetched buffer is reused for the next response
    expect(readSpanBody(tenantOf(other), 0)!.value.tenantId).toBe(other);
  });
});

describe('spanEventCodec with the hand-written reader', () => {
  it('decodes what it encodes, and refuses bad bodies with the same errors as avsc alone', () => {
    for (const span of randomSpans(200, 11)) expect(JSON.stringify(spanEventCodec.decode(spanEventCodec.encode(span)))).toBe(JSON.stringify(byAvsc(avsc.toBuffer(span))));
    const message = spanEventCodec.encode(randomSpans(1)[0]!);
    const truncated = message.subarray(0, message.length - 3);
    expect(() => spanEventCodec.decode(truncated)).toThrow(SchemaError);
    expect(() => spanEventCodec.decode(truncated)).toThrow(/truncated|does not decode/);
    const trailing = Buffer.concat([message, Buffer.from([0])]);
    expect(() => spanEventCodec.decode(trailing)).toThrow(/trailing bytes/);
  });
});
