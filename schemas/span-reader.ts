/**
 * The Avro body of a SpanEvent (avro/SpanEvent.v1.avsc), read by hand for the processor's and
 * the sink's hot path, where avsc's generic reader was 15% of the processor's CPU: a native
 * `utf8Slice` call for every string (~65 ns each, a dozen a span), a union lookup per optional
 * field, and a record class per span. This reader takes the plain case only, every value as
 * the schema's writer wrote it, and gives exactly what avsc gives for it, as a plain object with
 * the fields in schema order (span-reader.unit.test.ts compares the two span by span). For
 * anything else (a bad union or enum index, a long of 2^48 or more, a truncated body, a map key
 * avsc would treat specially) it answers undefined and the caller asks avsc, which has the final
 * word and the error message.
 *
 * Strings that repeat across spans (tenant, agent, span name, model, provider, attribute
 * names) come from a small cache keyed by their bytes: a match costs a byte comparison, not a
 * native call and a new string.
 *
 * It is written for one schema version: `readsSchema(fingerprint)` says whether it is that one.
 */
import { EDGE_KINDS, SPAN_KINDS, SPAN_STATUSES, type SpanEvent } from './span-event.js';

/** CRC-64-AVRO fingerprint of the SpanEvent schema this reader follows, field for field. */
const WRITTEN_FOR = 'de76ad090101c9bc';

export function readsSchema(fingerprintHex: string): boolean {
  return fingerprintHex === WRITTEN_FOR;
}

/** Longs of magnitude below 2^48 (7 varint bytes after zigzag) are read here: time in ms, tokens, micro-USD; larger ones go to avsc. */
const MAX_VARINT_BYTES = 7;

/**
 * Reads the body from `pos`; the span and the offset after it, or undefined to leave it to avsc.
 * Not reentrant (one position cursor); synchronous, so one reader serves a process.
 */
export function readSpanBody(bytes: Uint8Array, pos: number): { value: SpanEvent; end: number } | undefined {
  at = pos;
  buf = bytes;
  try {
    const eventId = text();
    const tenantId = common();
    const agentId = common();
    const runId = text();
    const parentRunId = optionalText();
    const treeId = text();
    const spanId = text();
    const parentSpanId = optionalText();
    const kind = symbol(SPAN_KINDS);
    const name = common();
    const status = symbol(SPAN_STATUSES);
    const error = optionalText();
    const startTimeMs = long();
    const endTimeMs = long();
    const model = optionalCommon();
    const provider = optionalCommon();
    const inputTokens = long();
    const outputTokens = long();
    const cachedTokens = long();
    const costMicros = branch() ? long() : null;
    const argsHash = optionalText();
    const args = optionalText();
    const outputHash = optionalText();
    const output = optionalText();
    const userId = optionalText();
    const sessionId = optionalText();
    const edge = branch() ? { kind: symbol(EDGE_KINDS), targetRunId: text(), targetTreeId: optionalText() } : null;
    const attributes = map();
    const value: SpanEvent = {
      eventId, tenantId, agentId, runId, parentRunId, treeId, spanId, parentSpanId, kind, name, status, error,
      startTimeMs, endTimeMs, model, provider, inputTokens, outputTokens, cachedTokens, costMicros,
      argsHash, args, outputHash, output, userId, sessionId, edge, attributes,
    };
    return { value, end: at };
  } catch (error) {
    if (error === NOT_PLAIN) return undefined;
    throw error;
  } finally {
    buf = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);
let buf: Uint8Array = EMPTY;
let at = 0;
/** Thrown (never escapes) when the body is not the plain case. */
const NOT_PLAIN = Symbol('not plain');

/** Zigzag varint (avsc's Tap.readLong), up to MAX_VARINT_BYTES bytes. */
function long(): number {
  let b = byte();
  let n = b & 0x7f;
  if (b < 0x80) return (n >>> 1) ^ -(n & 1);
  let scale = 0x80;
  for (let i = 1; ; i++) {
    if (i === MAX_VARINT_BYTES) throw NOT_PLAIN;
    b = byte();
    n += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 0x80;
  }
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function byte(): number {
  if (at >= buf.length) throw NOT_PLAIN;
  return buf[at++]!;
}

/** A ["null", T] union's branch: false for null, true for the value. */
function branch(): boolean {
  const index = byte();
  if (index === 0) return false;
  if (index === 2) return true;
  throw NOT_PLAIN;
}

function symbol<S extends string>(symbols: readonly S[]): S {
  const index = long();
  const found = symbols[index];
  if (found === undefined) throw NOT_PLAIN;
  return found;
}

function length(): number {
  const n = long();
  if (n < 0 || at + n > buf.length) throw NOT_PLAIN;
  return n;
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string }).utf8Slice;

function text(): string {
  const n = length();
  const start = at;
  at += n;
  return utf8Slice.call(buf, start, at);
}

function optionalText(): string | null {
  return branch() ? text() : null;
}

function optionalCommon(): string | null {
  return branch() ? common() : null;
}

/** Cached strings: slot by a hash of the bytes, checked byte for byte on a hit. */
const CACHE_SLOTS = 512;
const CACHEABLE_BYTES = 64;
const cachedBytes: Array<Uint8Array | undefined> = new Array(CACHE_SLOTS);
const cachedText: string[] = new Array(CACHE_SLOTS);

/** The cache slot of a string's bytes (FNV-1a); exported for tests. */
export function cacheSlot(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return (hash >>> 0) % CACHE_SLOTS;
}

/** A string likely to repeat across spans: the cached one when its bytes match. */
function common(): string {
  const n = length();
  const start = at;
  at += n;
  if (n > CACHEABLE_BYTES) return utf8Slice.call(buf, start, at);
  const slot = cacheSlot(buf, start, at);
  const known = cachedBytes[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (known[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cachedText[slot]!;
  }
  const value = utf8Slice.call(buf, start, at);
  cachedBytes[slot] = Uint8Array.prototype.slice.call(buf, start, at); // a copy: Buffer#slice would be a view of the message
  cachedText[slot] = value;
  return value;
}

/** Avro map blocks (a negative count is followed by the block's byte size, as avsc reads it). */
function map(): Record<string, string> {
  const out: Record<string, string> = {};
  for (;;) {
    let count = long();
    if (count === 0) return out;
    if (count < 0) {
      count = -count;
      long(); // the block's size in bytes
    }
    for (; count > 0; count--) {
      const key = common();
      // avsc assigns into a plain object, where this key sets the prototype: leave it to avsc.
      if (key === '__proto__') throw NOT_PLAIN;
      out[key] = text(); // values may be as many as the spans (ids in OTLP attributes): not cached
    }
  }
}
