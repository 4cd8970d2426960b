/**
 * What a Fetch returned for one partition, as log messages: the record batches (magic 2) read
 * in one pass, from the offset asked for on, with read_committed filtering. Keys and header
 * values are decoded as UTF-8 strings, values are views of the response (no copy), offsets are
 * decimal strings. kafkajs builds a decoder object, a Long and several Buffers per record before
 * Fusebox sees it (its fetch path was a fifth of the processor's CPU: BENCHMARKS.md, Finding 0);
 * this is the whole per-record cost of the wire fetcher.
 *
 * read_committed, as the Java client's Fetcher does it: the broker lists the aborted
 * transactions overlapping the answer (producer id, first offset); a transactional batch of a
 * producer is hidden from that first offset until the producer's ABORT marker (a control batch),
 * and control batches themselves are never delivered. The broker answers read_committed
 * fetches only up to the last stable offset, so nothing of an open transaction is returned.
 *
 * Layout: record-batch.ts. A batch cut off at the end of the answer (the broker fills up to the
 * byte limit) is not read; the next fetch starts at it. Only uncompressed and gzip batches are
 * read (what Fusebox's producers and kafkajs without extra codecs write); any other codec fails
 * with its name rather than yielding garbage.
 */
import { gunzipSync } from 'node:zlib';
import type { LogMessage } from '../port.js';
import { crc32c } from './crc32c.js';

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface DecodedRecords {
  messages: LogMessage[];
  /** Where the next fetch starts: past the last whole batch read (control and aborted batches included). */
  nextOffset: bigint;
}

export interface DecodeOptions {
  topic: string;
  partition: number;
  /** The offset fetched: records before it (the answer starts at the batch holding it) are skipped. */
  fromOffset: bigint;
  /** null: read_uncommitted (everything is delivered but control batches). */
  aborted: readonly AbortedTransaction[] | null;
  readCommitted: boolean;
  /** Verify each batch's CRC-32C (the Java client's check.crcs, on by default there too). */
  checkCrcs: boolean;
}

/** A batch that cannot be read: corrupt, an old message format, or a codec this client lacks. */
export class RecordDecodeError extends Error {
  override name = 'RecordDecodeError';
}

const COMPRESSION = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const ATTR_COMPRESSION = 0x07;
const ATTR_LOG_APPEND_TIME = 0x08;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;
const BATCH_HEADER_BYTES = 61;

/** Varint reads hand back their value and leave the position here (no object per read). */
let cursor = 0;

function readVarint(buf: Uint8Array, at: number): number {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    if (at >= buf.length) throw new RecordDecodeError('a record ends inside a varint');
    byte = buf[at++]!;
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  cursor = at;
  return (value >>> 1) ^ -(value & 1);
}

/** A zigzag varlong (timestamp deltas), exact within ±2^53. */
function readVarlong(buf: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  let byte: number;
  do {
    if (at >= buf.length) throw new RecordDecodeError('a record ends inside a varlong');
    byte = buf[at++]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte & 0x80 && scale < 2 ** 70);
  cursor = at;
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

export function decodeRecords(records: Buffer, options: DecodeOptions): DecodedRecords {
  const { topic, partition, fromOffset } = options;
  const messages: LogMessage[] = [];
  const pending = options.readCommitted && options.aborted ? [...options.aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0)) : [];
  /** Producers whose records are hidden until their abort marker. */
  const hidden = new Set<bigint>();
  let nextOffset = fromOffset;
  let at = 0;
  while (at + 17 <= records.length) {
    const baseOffset = records.readBigInt64BE(at);
    const end = at + 12 + records.readInt32BE(at + 8);
    if (end > records.length) break; // cut off by the byte limit: fetched again next time
    const magic = records[at + 16];
    if (magic !== 2) throw new RecordDecodeError(`partition ${partition} of '${topic}' holds a magic ${magic} message set at offset ${baseOffset}: only record batches (magic 2, Kafka 0.11+) are read`);
    if (end < at + BATCH_HEADER_BYTES) throw new RecordDecodeError(`partition ${partition} of '${topic}': a record batch at offset ${baseOffset} is shorter than its header`);
    if (options.checkCrcs && crc32c(records, at + 21, end) !== records.readUInt32BE(at + 17)) {
      throw new RecordDecodeError(`partition ${partition} of '${topic}': the record batch at offset ${baseOffset} fails its CRC-32C check (corrupt)`);
    }
    const attributes = records.readInt16BE(at + 21);
    const lastOffset = baseOffset + BigInt(records.readInt32BE(at + 23));
    const batchStart = at;
    at = end;
    if (lastOffset < nextOffset) continue; // wholly before the offset asked for
    nextOffset = lastOffset + 1n;
    const producerId = records.readBigInt64BE(batchStart + 43);
    while (pending.length > 0 && pending[0]!.firstOffset <= lastOffset) hidden.add(pending.shift()!.producerId);
    if (attributes & ATTR_CONTROL) {
      // Its one record's key: version i16, type i16 (0 abort, 1 commit).
      if (hidden.has(producerId) && isAbortMarker(records, batchStart + BATCH_HEADER_BYTES, end)) hidden.delete(producerId);
      continue;
    }
    if (attributes & ATTR_TRANSACTIONAL && hidden.has(producerId)) continue;
    const codec = attributes & ATTR_COMPRESSION;
    let body: Buffer;
    if (codec === 0) body = records.subarray(batchStart + BATCH_HEADER_BYTES, end);
    else if (codec === 1) body = gunzipSync(records.subarray(batchStart + BATCH_HEADER_BYTES, end));
    else throw new RecordDecodeError(`partition ${partition} of '${topic}': the record batch at offset ${baseOffset} is compressed with ${COMPRESSION[codec] ?? `codec ${codec}`}, which this client does not read (none and gzip only)`);
    const count = records.readInt32BE(batchStart + 57);
    const logAppendTime = (attributes & ATTR_LOG_APPEND_TIME) !== 0;
    const baseTimestamp = Number(records.readBigInt64BE(batchStart + (logAppendTime ? 35 : 27)));
    readBatchRecords(body, count, baseOffset, fromOffset, baseTimestamp, logAppendTime, topic, partition, messages);
  }
  return { messages, nextOffset };
}

/** The headers of every record that has none (nearly all): one shared, frozen object, not one each. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function readBatchRecords(body: Buffer, count: number, baseOffset: bigint, fromOffset: bigint, baseTimestamp: number, logAppendTime: boolean, topic: string, partition: number, out: LogMessage[]): void {
  // Offsets as numbers while exact (always, in practice: 2^53 records is centuries of any log).
  const exact = baseOffset + BigInt(count) < BigInt(Number.MAX_SAFE_INTEGER);
  const base = Number(baseOffset);
  const from = Number(fromOffset);
  let p = 0;
  for (let i = 0; i < count; i++) {
    const length = readVarint(body, p);
    const recordEnd = cursor + length;
    if (recordEnd > body.length) throw new RecordDecodeError(`partition ${partition} of '${topic}': record ${i} of the batch at offset ${baseOffset} runs past its batch`);
    p = cursor + 1; // record attributes: unused
    const timestampDelta = readVarlong(body, p);
    const offsetDelta = readVarint(body, cursor);
    const keyLength = readVarint(body, cursor);
    let key: string | null = null;
    p = cursor;
    if (keyLength >= 0) {
      key = body.toString('utf8', p, p + keyLength);
      p += keyLength;
    }
    const valueLength = readVarint(body, p);
    p = cursor;
    let value: Buffer | null = null;
    if (valueLength >= 0) {
      value = body.subarray(p, p + valueLength);
      p += valueLength;
    }
    const headerCount = readVarint(body, p);
    p = cursor;
    const headers: Record<string, string> = headerCount === 0 ? NO_HEADERS : {};
    for (let h = 0; h < headerCount; h++) {
      const nameLength = readVarint(body, p);
      const name = body.toString('utf8', cursor, cursor + nameLength);
      const valueBytes = readVarint(body, cursor + nameLength);
      headers[name] = valueBytes < 0 ? '' : body.toString('utf8', cursor, cursor + valueBytes);
      p = cursor + Math.max(valueBytes, 0);
    }
    if (p !== recordEnd) throw new RecordDecodeError(`partition ${partition} of '${topic}': record ${i} of the batch at offset ${baseOffset} is ${length} bytes long but its fields take ${p - recordEnd + length}`);
    const offset = exact ? base + offsetDelta : 0;
    if (exact ? offset < from : baseOffset + BigInt(offsetDelta) < fromOffset) continue;
    out.push({
      topic,
      partition,
      offset: exact ? String(offset) : (baseOffset + BigInt(offsetDelta)).toString(),
      key,
      value,
      timestampMs: logAppendTime ? baseTimestamp : baseTimestamp + timestampDelta,
      headers,
    });
  }
}

/** Whether the control batch's record (at `from`) is an ABORT marker: key version 0, type 0. */
function isAbortMarker(records: Buffer, from: number, end: number): boolean {
  readVarint(records, from); // record length
  let p = cursor + 1; // attributes
  readVarlong(records, p);
  readVarint(records, cursor); // offset delta
  const keyLength = readVarint(records, cursor);
  p = cursor;
  if (keyLength < 4 || p + 4 > end) return false;
  return records.readInt16BE(p + 2) === 0;
}
