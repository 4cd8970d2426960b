/**
 * An OTLP ExportTraceServiceRequest read into plain values, one shape whatever the encoding:
 * OTLP/JSON (ids as hex, 64-bit integers as strings or numbers, enums as numbers or names) and
 * OTLP/protobuf (decoded by protobuf.ts into the same object tree, ids as base64). Each span is
 * read on its own: a malformed span is reported with its path and the others go on.
 */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeMs: number;
  endTimeMs: number;
  attributes: Attributes;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  events: Array<{ name: string; attributes: Attributes }>;
}

export interface OtlpSpanContext {
  resource: Attributes;
  scope: { name: string; version: string };
  span: OtlpSpan;
}

export type ReadSpan =
  | { ok: true; path: string; context: OtlpSpanContext }
  | { ok: false; path: string; field: string; message: string; raw: unknown };

export type IdEncoding = 'hex' | 'base64';

export class OtlpShapeError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'OtlpShapeError';
  }
}

const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
};

/** Every span of the request, in order, each read or refused with the path of the fault. */
export function readExportRequest(body: unknown, ids: IdEncoding): ReadSpan[] {
  if (!isObject(body)) throw new OtlpShapeError('body', 'expected an ExportTraceServiceRequest object');
  const resourceSpans = body.resourceSpans ?? [];
  if (!Array.isArray(resourceSpans)) throw new OtlpShapeError('resourceSpans', 'expected an array');
  const out: ReadSpan[] = [];
  resourceSpans.forEach((rs: unknown, r) => {
    const base = `resourceSpans.${r}`;
    const resource = isObject(rs) && isObject(rs.resource) ? readAttributes(rs.resource.attributes) : {};
    const scopeSpans = isObject(rs) && Array.isArray(rs.scopeSpans) ? rs.scopeSpans : [];
    scopeSpans.forEach((ss: unknown, s) => {
      const scopeObject = isObject(ss) && isObject(ss.scope) ? ss.scope : {};
      const scope = { name: text(scopeObject.name), version: text(scopeObject.version) };
      const spans = isObject(ss) && Array.isArray(ss.spans) ? ss.spans : [];
      spans.forEach((raw: unknown, i) => {
        const path = `${base}.scopeSpans.${s}.spans.${i}`;
        try {
          out.push({ ok: true, path, context: { resource, scope, span: readSpan(raw, ids) } });
        } catch (error) {
          if (!(error instanceof OtlpShapeError)) throw error;
          out.push({ ok: false, path, field: `${path}.${error.field}`, message: error.message.slice(error.field.length + 2), raw });
        }
      });
    });
  });
  return out;
}

function readSpan(raw: unknown, ids: IdEncoding): OtlpSpan {
  if (!isObject(raw)) throw new OtlpShapeError('', 'expected a span object');
  const traceId = readId(raw.traceId, ids, 16, 'traceId');
  const spanId = readId(raw.spanId, ids, 8, 'spanId');
  if (traceId === null) throw new OtlpShapeError('traceId', 'required (16 bytes, not all zero)');
  if (spanId === null) throw new OtlpShapeError('spanId', 'required (8 bytes, not all zero)');
  const status = isObject(raw.status) ? raw.status : {};
  return {
    traceId,
    spanId,
    parentSpanId: readId(raw.parentSpanId, ids, 8, 'parentSpanId'),
    name: text(raw.name),
    kind: enumValue(raw.kind, KIND_NAMES, 'kind'),
    startTimeMs: nanosToMs(raw.startTimeUnixNano, 'startTimeUnixNano'),
    endTimeMs: nanosToMs(raw.endTimeUnixNano, 'endTimeUnixNano'),
    attributes: readAttributes(raw.attributes),
    statusCode: enumValue(status.code, STATUS_NAMES, 'status.code'),
    statusMessage: text(status.message),
    events: Array.isArray(raw.events) ? raw.events.filter(isObject).map((e) => ({ name: text(e.name), attributes: readAttributes(e.attributes) })) : [],
  };
}

/** Ids are hex in OTLP/JSON and bytes (base64 here) in protobuf; all-zero or empty means absent. */
function readId(value: unknown, ids: IdEncoding, bytes: number, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new OtlpShapeError(field, `expected a ${ids} string`);
  const hex = ids === 'hex' ? value.toLowerCase() : Buffer.from(value, 'base64').toString('hex');
  if (!/^[0-9a-f]*$/.test(hex) || hex.length !== bytes * 2) throw new OtlpShapeError(field, `expected ${bytes} bytes as ${ids === 'hex' ? `${bytes * 2} hex digits` : 'base64'}`);
  return /^0+$/.test(hex) ? null : hex;
}

function nanosToMs(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value / 1e6);
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return Number(BigInt(value) / 1_000_000n);
  if (value === undefined || value === null) throw new OtlpShapeError(field, 'required (unix time in nanoseconds)');
  throw new OtlpShapeError(field, 'expected unix time in nanoseconds (a non-negative integer or a decimal string)');
}

function enumValue(value: unknown, names: Record<string, number>, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && value in names) return names[value]!;
  throw new OtlpShapeError(field, `expected one of ${Object.keys(names).join(', ')} or its number`);
}

function readAttributes(list: unknown): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    // Defined, not assigned: an attribute named `__proto__` is data like any other, and an
    // assignment would set the object's prototype instead.
    if (isObject(kv) && typeof kv.key === 'string') Object.defineProperty(out, kv.key, { value: anyValue(kv.value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** An OTLP AnyValue as a plain value; int64 as a number (exact up to 2^53, all a token count needs). */
function anyValue(value: unknown): AttributeValue {
  if (!isObject(value)) return null;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined && value.intValue !== null) return Number(value.intValue);
  if (value.doubleValue !== undefined && value.doubleValue !== null) return Number(value.doubleValue);
  if (isObject(value.arrayValue)) return Array.isArray(value.arrayValue.values) ? value.arrayValue.values.map(anyValue) : [];
  if (isObject(value.kvlistValue)) return readAttributes(value.kvlistValue.values);
  if (typeof value.bytesValue === 'string') return value.bytesValue;
  return null;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isObject(value: unknown): value is Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
