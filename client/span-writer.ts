/**
 * The Avro body of a SpanEvent (schemas/avro/SpanEvent.v1.avsc), written by hand for the
 * agent's hot path: avsc's generic writer was a third of emit()'s cost, mostly
 * `Buffer.byteLength` and a union-branch lookup per field. This writer takes only the plain
 * case, ASCII strings under 64 characters or long strings and values of exactly the schema's
 * types, and produces exactly avsc's bytes for it (encoded-spans.unit.test.ts compares them
 * span by span). For anything else (a non-ASCII short string, a value of the wrong type) it
 * answers NOT_PLAIN and the caller encodes with avsc, which has the final word and the error.
 *
 * It is written for one schema version: `writesSchema(fingerprint)` says whether the schema
 * the codec writes is that one, and the caller uses avsc alone when it is not.
 */
import { EDGE_KINDS, SPAN_KINDS, SPAN_STATUSES, type SpanEvent } from '../schemas/index.js';

/** CRC-64-AVRO fingerprint of the SpanEvent schema this writer follows, field for field. */
const WRITTEN_FOR = 'de76ad090101c9bc';

/** The span does not fit in the bytes left: retry in a larger buffer. */
export const NO_ROOM = -1;
/** Not the plain case this writer takes: encode with avsc. */
export const NOT_PLAIN = -2;

export function writesSchema(fingerprintHex: string): boolean {
  return fingerprintHex === WRITTEN_FOR;
}

const indexOf = (symbols: readonly string[]) => new Map(symbols.map((symbol, index) => [symbol, index]));
const KIND = indexOf(SPAN_KINDS);
const STATUS = indexOf(SPAN_STATUSES);
const EDGE_KIND = indexOf(EDGE_KINDS);
/** Every fixed-size part of a span (longs, enums, union branches, map ends) fits in this. */
const FIXED_BYTES = 32 * 10;

/** Writes the body at `pos`: the end offset, NO_ROOM or NOT_PLAIN. */
export function writeSpanBody(span: SpanEvent, bytes: Buffer, pos: number): number {
  if (pos + FIXED_BYTES > bytes.length) return NO_ROOM;
  let p = pos;
  if ((p = text(span.eventId, bytes, p)) < 0) return p;
  if ((p = text(span.tenantId, bytes, p)) < 0) return p;
  if ((p = text(span.agentId, bytes, p)) < 0) return p;
  if ((p = text(span.runId, bytes, p)) < 0) return p;
  if ((p = optionalText(span.parentRunId, bytes, p)) < 0) return p;
  if ((p = text(span.treeId, bytes, p)) < 0) return p;
  if ((p = text(span.spanId, bytes, p)) < 0) return p;
  if ((p = optionalText(span.parentSpanId, bytes, p)) < 0) return p;
  if ((p = symbol(KIND, span.kind, bytes, p)) < 0) return p;
  if ((p = text(span.name, bytes, p)) < 0) return p;
  if ((p = symbol(STATUS, span.status, bytes, p)) < 0) return p;
  if ((p = optionalText(span.error, bytes, p)) < 0) return p;
  if ((p = long(span.startTimeMs, bytes, p)) < 0) return p;
  if ((p = long(span.endTimeMs, bytes, p)) < 0) return p;
  if ((p = optionalText(span.model, bytes, p)) < 0) return p;
  if ((p = optionalText(span.provider, bytes, p)) < 0) return p;
  if ((p = long(span.inputTokens, bytes, p)) < 0) return p;
  if ((p = long(span.outputTokens, bytes, p)) < 0) return p;
  if ((p = long(span.cachedTokens, bytes, p)) < 0) return p;
  if (span.costMicros === null) bytes[p++] = 0;
  else {
    bytes[p++] = 2;
    if ((p = long(span.costMicros, bytes, p)) < 0) return p;
  }
  if ((p = optionalText(span.argsHash, bytes, p)) < 0) return p;
  if ((p = optionalText(span.args, bytes, p)) < 0) return p;
  if ((p = optionalText(span.outputHash, bytes, p)) < 0) return p;
  if ((p = optionalText(span.output, bytes, p)) < 0) return p;
  if ((p = optionalText(span.userId, bytes, p)) < 0) return p;
  if ((p = optionalText(span.sessionId, bytes, p)) < 0) return p;
  const edge = span.edge;
  if (edge === null) bytes[p++] = 0;
  else {
    if (typeof edge !== 'object') return NOT_PLAIN;
    bytes[p++] = 2;
    if ((p = symbol(EDGE_KIND, edge.kind, bytes, p)) < 0) return p;
    if ((p = text(edge.targetRunId, bytes, p)) < 0) return p;
    if ((p = optionalText(edge.targetTreeId, bytes, p)) < 0) return p;
  }
  const attributes = span.attributes;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return NOT_PLAIN;
  const keys = Object.keys(attributes);
  if (keys.length > 0) {
    p = writeLong(keys.length, bytes, p);
    for (const key of keys) {
      if ((p = text(key, bytes, p)) < 0) return p;
      if ((p = text(attributes[key], bytes, p)) < 0) return p;
    }
  }
  if (p + 1 > bytes.length) return NO_ROOM;
  bytes[p++] = 0;
  return p;
}

function optionalText(value: unknown, bytes: Buffer, p: number): number {
  if (value === null) {
    bytes[p] = 0;
    return p + 1;
  }
  if (p + 1 > bytes.length) return NO_ROOM;
  bytes[p] = 2;
  return text(value, bytes, p + 1);
}

/** A string as Avro writes it: zigzag length, then UTF-8 (as avsc does: its own loop under 64 bytes, utf8Write above). */
function text(value: unknown, bytes: Buffer, p: number): number {
  if (typeof value !== 'string') return NOT_PLAIN;
  const n = value.length;
  if (p + 10 + 3 * n > bytes.length) return NO_ROOM;
  if (n < 64) {
    // Length first, assuming ASCII (one byte each; 2n < 128 is one varint byte); any other
    // character leaves the span to avsc, whose short-string loop this does not restate.
    bytes[p] = n << 1;
    let at = p + 1;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return NOT_PLAIN;
      bytes[at++] = c;
    }
    return at;
  }
  // From 64 characters on avsc writes with utf8Write too, but for 64 bytes exactly, with its own
  // loop: 64 characters in 64 bytes are ASCII, where both write the same bytes.
  const length = Buffer.byteLength(value);
  p = writeLong(length, bytes, p);
  return p + bytes.write(value, p, length, 'utf8');
}

function symbol(indices: Map<string, number>, value: unknown, bytes: Buffer, p: number): number {
  const index = typeof value === 'string' ? indices.get(value) : undefined;
  if (index === undefined) return NOT_PLAIN;
  bytes[p] = index << 1;
  return p + 1;
}

function long(value: unknown, bytes: Buffer, p: number): number {
  // avsc's bound (isSafeLong), one short of Number.MAX_SAFE_INTEGER.
  if (typeof value !== 'number' || value % 1 !== 0 || value < -9007199254740990 || value > 9007199254740990) return NOT_PLAIN;
  return writeLong(value, bytes, p);
}

/** Zigzag varint, as avsc's Tap.writeLong: integer arithmetic while it cannot overflow. */
function writeLong(n: number, bytes: Buffer, p: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      bytes[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    bytes[p++] = m;
    return p;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    bytes[p++] = (f & 0x7f) | 0x80;
    f = Math.floor(f / 128);
  }
  bytes[p++] = f;
  return p;
}
