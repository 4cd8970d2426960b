/**
 * A Kafka record batch (magic 2, uncompressed, not transactional, not idempotent) written in
 * one pass into one exactly-sized buffer: the sizes are summed first, then every field is
 * written in place. kafkajs builds the same bytes through an Encoder per record, spread copies
 * of every message, and a quadratic per-partition grouping, which cost the client's Kafka
 * thread 13-46 µs of CPU per span (BENCHMARKS.md, Finding 0); this is the producer's whole
 * per-record cost.
 *
 * Layout (https://kafka.apache.org/documentation/#recordbatch): baseOffset i64, batchLength
 * i32, partitionLeaderEpoch i32, magic i8, crc u32 (CRC-32C of everything after it),
 * attributes i16, lastOffsetDelta i32, baseTimestamp i64, maxTimestamp i64, producerId i64,
 * producerEpoch i16, baseSequence i32, record count i32, then each record: length varint,
 * attributes i8, timestampDelta varlong, offsetDelta varint, key, value (varint length, -1 for
 * null, then bytes), header count varint, headers (key string, value bytes).
 */
import { crc32c } from './crc32c.js';

export interface BatchRecord {
  /** null: a record without a key. */
  key: string | null;
  /** null: a tombstone. */
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

/** An idempotent or transactional producer's identity: the broker deduplicates its batches by sequence. */
export interface BatchProducer {
  producerId: bigint;
  epoch: number;
  /** Sequence number of the first record; each record takes the next. */
  baseSequence: number;
  transactional: boolean;
}

/** The sequence number `count` records after `sequence`: Kafka's wrap to 0 past 2^31 - 1. */
export function nextSequence(sequence: number, count: number): number {
  return (sequence + count) % 2 ** 31;
}

/** Bytes before the first record. */
export const BATCH_HEADER_BYTES = 61;
/** Where the CRC-32C is written, and where the bytes it covers start (after it). */
const CRC_AT = 17;
const CRC_FROM = 21;

/** Bytes of `n` as a zigzag varint (n within ±2^31). */
export function varintSize(n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  let size = 1;
  while (v >= 0x80) {
    v >>>= 7;
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

/** Every record of a batch shares the batch's timestamp, so each record's delta is 0 (one byte). */
function recordBodySize(record: BatchRecord, keyBytes: number, offsetDelta: number, headerBytes: number): number {
  const valueBytes = record.value === null ? -1 : record.value.length;
  return 1 + 1 + varintSize(offsetDelta) +
    varintSize(keyBytes) + Math.max(keyBytes, 0) +
    varintSize(valueBytes) + Math.max(valueBytes, 0) +
    headerBytes;
}

function headersSize(headers: Record<string, string> | undefined): number {
  if (!headers) return 1;
  let size = 0;
  let count = 0;
  for (const name in headers) {
    const k = Buffer.byteLength(name);
    const v = Buffer.byteLength(headers[name]!);
    size += varintSize(k) + k + varintSize(v) + v;
    count++;
  }
  return varintSize(count) + size;
}

/**
 * `records` as one or more batches of at most `maxBatchBytes` each (a batch of one record may be
 * larger: the broker then refuses it by name, MESSAGE_TOO_LARGE), in order. A broker takes one
 * batch per partition per Produce request, and by default none over 1 MiB (message.max.bytes),
 * so a client's 500 spans with captured arguments go as several.
 */
export function encodeRecordBatches(records: readonly BatchRecord[], timestampMs: number, maxBatchBytes: number, producer?: BatchProducer): Buffer[] {
  const sizes = measure(records);
  const batches: Buffer[] = [];
  let from = 0;
  let bytes = BATCH_HEADER_BYTES;
  for (let i = 0; i < records.length; i++) {
    // An upper bound: offset deltas restart at 0 in each batch, so their varints only shrink.
    const body = recordBodySize(records[i]!, sizes.keyBytes[i]!, i, sizes.headerBytes[i]!);
    const size = varintSize(body) + body;
    if (i > from && bytes + size > maxBatchBytes) {
      batches.push(writeBatch(records, from, i, sizes, timestampMs, producer));
      from = i;
      bytes = BATCH_HEADER_BYTES;
    }
    bytes += size;
  }
  if (records.length > from) batches.push(writeBatch(records, from, records.length, sizes, timestampMs, producer));
  return batches;
}

/** The batch for `records`, all stamped `timestampMs` (CreateTime). */
export function encodeRecordBatch(records: readonly BatchRecord[], timestampMs: number, producer?: BatchProducer): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record');
  return writeBatch(records, 0, records.length, measure(records), timestampMs, producer);
}

/** Each record's key and headers in bytes, measured once whatever batches the records go in. */
function measure(records: readonly BatchRecord[]): { keyBytes: Int32Array; headerBytes: Int32Array } {
  const keyBytes = new Int32Array(records.length);
  const headerBytes = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    keyBytes[i] = record.key === null ? -1 : Buffer.byteLength(record.key);
    headerBytes[i] = headersSize(record.headers);
  }
  return { keyBytes, headerBytes };
}

/** The batch of `records[from, to)`, offset deltas counted from `from` (and sequence numbers, for a producer with an id). */
function writeBatch(records: readonly BatchRecord[], from: number, to: number, sizes: ReturnType<typeof measure>, timestampMs: number, producer?: BatchProducer): Buffer {
  const n = to - from;
  const { keyBytes, headerBytes } = sizes;
  const bodyBytes = new Int32Array(n);
  let total = BATCH_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    const body = recordBodySize(records[from + i]!, keyBytes[from + i]!, i, headerBytes[from + i]!);
    bodyBytes[i] = body;
    total += varintSize(body) + body;
  }

  const buf = Buffer.allocUnsafe(total);
  buf.writeBigInt64BE(0n, 0); // baseOffset: the broker assigns offsets
  buf.writeInt32BE(total - 12, 8); // batchLength: after baseOffset and itself
  buf.writeInt32BE(-1, 12); // partitionLeaderEpoch: unknown to a producer
  buf.writeInt8(2, 16); // magic
  buf.writeInt16BE(producer?.transactional ? 0x10 : 0, 21); // attributes: no compression, CreateTime, not control
  buf.writeInt32BE(n - 1, 23); // lastOffsetDelta
  buf.writeBigInt64BE(BigInt(timestampMs), 27); // baseTimestamp
  buf.writeBigInt64BE(BigInt(timestampMs), 35); // maxTimestamp
  buf.writeBigInt64BE(producer ? producer.producerId : -1n, 43); // -1: not idempotent (plain sends: see producer.ts)
  buf.writeInt16BE(producer ? producer.epoch : -1, 51);
  buf.writeInt32BE(producer ? nextSequence(producer.baseSequence, from) : -1, 53); // baseSequence
  buf.writeInt32BE(n, 57); // record count

  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    const record = records[from + i]!;
    at = writeVarint(buf, at, bodyBytes[i]!);
    buf[at++] = 0; // record attributes
    buf[at++] = 0; // timestampDelta 0 as a zigzag varlong
    at = writeVarint(buf, at, i); // offsetDelta
    at = writeVarint(buf, at, keyBytes[from + i]!);
    if (record.key !== null) at += buf.write(record.key, at, 'utf8');
    if (record.value === null) {
      at = writeVarint(buf, at, -1);
    } else {
      at = writeVarint(buf, at, record.value.length);
      buf.set(record.value, at);
      at += record.value.length;
    }
    at = writeHeaders(buf, at, record.headers);
  }
  if (at !== total) throw new Error(`record batch size mismatch: wrote ${at} of ${total} bytes`);
  buf.writeUInt32BE(crc32c(buf, CRC_FROM, total), CRC_AT);
  return buf;
}

function writeHeaders(buf: Buffer, at: number, headers: Record<string, string> | undefined): number {
  if (!headers) {
    buf[at] = 0;
    return at + 1;
  }
  const names = Object.keys(headers);
  at = writeVarint(buf, at, names.length);
  for (const name of names) {
    at = writeVarint(buf, at, Buffer.byteLength(name));
    at += buf.write(name, at, 'utf8');
    const value = headers[name]!;
    at = writeVarint(buf, at, Buffer.byteLength(value));
    at += buf.write(value, at, 'utf8');
  }
  return at;
}
