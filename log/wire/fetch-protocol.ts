/**
 * The two requests the wire fetcher speaks, as bytes: Fetch v4 (records of several partitions
 * from their leader, waiting up to max_wait_ms for min_bytes; isolation level; aborted
 * transactions listed in the answer) and ListOffsets v2 (a partition's earliest or latest
 * offset, the latter the last stable one under read_committed). Both are served by every broker
 * from 0.11 through 4.x (Kafka 4.0 dropped Fetch v0-3 and ListOffsets v0, not these).
 * Pure encoding and decoding, no I/O: connection.ts frames and sends them.
 */
import { Reader } from './protocol.js';
import type { AbortedTransaction } from './record-decode.js';

export const API_FETCH = 1;
export const API_LIST_OFFSETS = 2;

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export interface FetchTopicRequest {
  topic: string;
  partitions: Array<{ partition: number; offset: bigint; maxBytes: number }>;
}

export interface FetchOptions {
  maxWaitMs: number;
  minBytes: number;
  /** The whole answer's limit; the broker still returns the first batch of the first partition if larger. */
  maxBytes: number;
  isolation: typeof READ_UNCOMMITTED | typeof READ_COMMITTED;
}

/** Fetch v4 body. */
export function fetchRequestBody(options: FetchOptions, topics: readonly FetchTopicRequest[]): Buffer {
  const names = topics.map((t) => Buffer.from(t.topic, 'utf8'));
  let size = 4 + 4 + 4 + 4 + 1 + 4;
  topics.forEach((t, i) => { size += 2 + names[i]!.length + 4 + t.partitions.length * 16; });
  const body = Buffer.allocUnsafe(size);
  let at = body.writeInt32BE(-1, 0); // replica_id: a consumer
  at = body.writeInt32BE(options.maxWaitMs, at);
  at = body.writeInt32BE(options.minBytes, at);
  at = body.writeInt32BE(options.maxBytes, at);
  at = body.writeInt8(options.isolation, at);
  at = body.writeInt32BE(topics.length, at);
  topics.forEach((t, i) => {
    at = body.writeInt16BE(names[i]!.length, at);
    at += names[i]!.copy(body, at);
    at = body.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      at = body.writeInt32BE(p.partition, at);
      at = body.writeBigInt64BE(p.offset, at);
      at = body.writeInt32BE(p.maxBytes, at);
    }
  });
  return body;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  /** null when the broker lists none (read_uncommitted, or no aborted transaction overlaps). */
  aborted: AbortedTransaction[] | null;
  /** The record batches, a view of the response; empty when there was nothing new. */
  records: Buffer;
}

const NO_RECORDS = Buffer.alloc(0);

/** Fetch v4 response body (after the correlation id). */
export function decodeFetch(body: Buffer): FetchedPartition[] {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const out: FetchedPartition[] = [];
  r.array(() => {
    const topic = r.string();
    r.array(() => {
      const partition = r.int32();
      const errorCode = r.int16();
      const highWatermark = r.int64();
      const lastStableOffset = r.int64();
      const aborted = r.nullableArray(() => ({ producerId: r.int64(), firstOffset: r.int64() }));
      const records = r.bytes() ?? NO_RECORDS;
      out.push({ topic, partition, errorCode, highWatermark, lastStableOffset, aborted, records });
    });
  });
  return out;
}

export const EARLIEST = -2n;
export const LATEST = -1n;

/** ListOffsets v2 body: `at` is EARLIEST or LATEST (or a timestamp) for each partition of one topic. */
export function listOffsetsRequestBody(isolation: FetchOptions['isolation'], topic: string, partitions: readonly number[], at: bigint): Buffer {
  const name = Buffer.from(topic, 'utf8');
  const body = Buffer.allocUnsafe(4 + 1 + 4 + 2 + name.length + 4 + partitions.length * 12);
  let offset = body.writeInt32BE(-1, 0); // replica_id
  offset = body.writeInt8(isolation, offset);
  offset = body.writeInt32BE(1, offset);
  offset = body.writeInt16BE(name.length, offset);
  offset += name.copy(body, offset);
  offset = body.writeInt32BE(partitions.length, offset);
  for (const partition of partitions) {
    offset = body.writeInt32BE(partition, offset);
    offset = body.writeBigInt64BE(at, offset);
  }
  return body;
}

export interface ListedOffset {
  topic: string;
  partition: number;
  errorCode: number;
  offset: bigint;
}

/** ListOffsets v2 response body. */
export function decodeListOffsets(body: Buffer): ListedOffset[] {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const out: ListedOffset[] = [];
  r.array(() => {
    const topic = r.string();
    r.array(() => {
      const partition = r.int32();
      const errorCode = r.int16();
      r.int64(); // timestamp
      const offset = r.int64();
      out.push({ topic, partition, errorCode, offset });
    });
  });
  return out;
}
