/**
 * Avro single-object encoding (C3 01, 8-byte CRC-64-AVRO fingerprint, Avro binary body).
 *
 * A codec has one reader schema (the newest this build knows) and every writer schema it has
 * ever shipped. Decoding looks the writer up by fingerprint and resolves writer to reader, so
 * old and new producers coexist on one topic during a rolling upgrade.
 */
import avro from 'avsc';
import { SchemaError } from './errors.js';
import { fingerprintBytes } from './fingerprint.js';

const MARKER_0 = 0xc3;
const MARKER_1 = 0x01;
const HEADER_BYTES = 10;

export interface Codec<T> {
  readonly name: string;
  /** Fingerprint (hex) of the schema `encode` writes with. */
  readonly fingerprint: string;
  encode(value: T): Buffer;
  decode(bytes: Buffer): T;
}

/** Parses a schema and returns it with its fingerprint (of avsc's Parsing Canonical Form). */
export function parseSchema(schema: object): { type: avro.Type; fingerprint: Buffer } {
  const type = avro.Type.forSchema(schema as avro.Schema);
  return { type, fingerprint: fingerprintBytes(JSON.stringify(type.schema())) };
}

/**
 * A hand-written reader of one schema version's body, for a hot path: undefined for anything
 * it does not take, which avsc then decodes (or refuses, with its error).
 */
export interface FastBodyReader<T> {
  readsSchema(fingerprintHex: string): boolean;
  read(bytes: Buffer, pos: number): { value: T; end: number } | undefined;
}

export function createCodec<T>(name: string, reader: object, olderWriters: object[] = [], fastReader?: FastBodyReader<T>): Codec<T> {
  const current = parseSchema(reader);
  // The reader decodes its own bytes without a resolver (the fast path).
  const readers = new Map<string, { type: avro.Type; resolver: ReturnType<avro.Type['createResolver']> | undefined }>();
  readers.set(current.fingerprint.toString('hex'), { type: current.type, resolver: undefined });
  for (const writer of olderWriters) {
    const parsed = parseSchema(writer);
    readers.set(parsed.fingerprint.toString('hex'), { type: current.type, resolver: current.type.createResolver(parsed.type) });
  }
  const currentHex = current.fingerprint.toString('hex');
  const currentEntry = readers.get(currentHex)!;
  const currentHigh = current.fingerprint.readUInt32BE(0);
  const currentLow = current.fingerprint.readUInt32BE(4);
  const fastRead = fastReader?.readsSchema(current.fingerprint.toString('hex')) ? fastReader.read : undefined;
  const header = Buffer.concat([Buffer.from([MARKER_0, MARKER_1]), current.fingerprint]);
  // Encoding writes header and body into one reused scratch buffer and copies the message out
  // once: avsc's toBuffer zero-fills a fresh buffer per value and Buffer.concat copied it again,
  // which showed in the gateway's profile as allocation and GC.
  let scratch = Buffer.alloc(4096);
  header.copy(scratch);

  return {
    name,
    fingerprint: current.fingerprint.toString('hex'),
    encode(value: T): Buffer {
      let end: number;
      try {
        end = current.type.encode(value, scratch, HEADER_BYTES);
        if (end < 0) {
          // avsc answers how many bytes were missing: grow once, to at least double, and write again.
          scratch = Buffer.alloc(Math.max(scratch.length * 2, scratch.length - end));
          header.copy(scratch);
          end = current.type.encode(value, scratch, HEADER_BYTES);
        }
      } catch (cause) {
        throw new SchemaError('INVALID_EVENT', `${name}: ${describeInvalid(current.type, value)}`, { cause });
      }
      return Buffer.from(scratch.subarray(0, end));
    },
    decode(bytes: Buffer): T {
      if (bytes.length < HEADER_BYTES || bytes[0] !== MARKER_0 || bytes[1] !== MARKER_1) {
        throw new SchemaError('NOT_SINGLE_OBJECT', `${name}: not Avro single-object encoding (expected bytes C3 01 and an 8-byte fingerprint, got ${preview(bytes)})`);
      }
      // The current schema's fingerprint (nearly every message) is compared as two words: no hex
      // string and no map lookup per message.
      const isCurrent = bytes.readUInt32BE(2) === currentHigh && bytes.readUInt32BE(6) === currentLow;
      const fingerprint = isCurrent ? currentHex : bytes.subarray(2, HEADER_BYTES).toString('hex');
      const entry = isCurrent ? currentEntry : readers.get(fingerprint);
      if (!entry) {
        throw new SchemaError('UNKNOWN_FINGERPRINT', `${name}: unknown writer schema fingerprint ${fingerprint}; known: ${[...readers.keys()].join(', ')}`);
      }
      if (isCurrent && fastRead) {
        const fast = fastRead(bytes, HEADER_BYTES);
        if (fast && fast.end === bytes.length) return fast.value;
      }
      let decoded: { value: unknown; offset: number };
      try {
        decoded = entry.type.decode(bytes, HEADER_BYTES, entry.resolver);
      } catch (cause) {
        throw new SchemaError('MALFORMED_PAYLOAD', `${name}: body does not decode with schema ${fingerprint}: ${(cause as Error).message}`, { cause });
      }
      if (decoded.offset < 0) {
        throw new SchemaError('MALFORMED_PAYLOAD', `${name}: body truncated (${bytes.length - HEADER_BYTES} bytes is too short for schema ${fingerprint})`);
      }
      if (decoded.offset !== bytes.length) {
        throw new SchemaError('MALFORMED_PAYLOAD', `${name}: ${bytes.length - decoded.offset} unexpected trailing bytes after the body`);
      }
      return decoded.value as T;
    },
  };
}

/** Names every field path that does not fit, e.g. "kind: 'bogus' is not a valid value". */
function describeInvalid(type: avro.Type, value: unknown): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], got: unknown) => {
      problems.push(`${path.join('.') || '(root)'}: ${JSON.stringify(got) ?? String(got)} does not fit the schema`);
    },
  });
  return problems.length > 0 ? problems.join('; ') : 'value does not fit the schema';
}

function preview(bytes: Buffer): string {
  return bytes.length === 0 ? 'an empty message' : `${bytes.subarray(0, 8).toString('hex')}${bytes.length > 8 ? '…' : ''} (${bytes.length} bytes)`;
}
