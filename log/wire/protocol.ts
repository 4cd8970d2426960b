/**
 * The two Kafka requests the wire producer speaks, as bytes: Metadata v4 (which broker leads
 * each partition) and Produce v3 (record batches, acks=all). Both versions are served by every
 * broker from 0.11 through 4.x (Kafka 4.0 dropped Produce v0-2 and Metadata v0-3, not these).
 * Pure encoding and decoding, no I/O: connection.ts frames and sends them.
 *
 * Request header v1: size i32, api key i16, api version i16, correlation id i32, client id
 * (nullable string). Response header v0: size i32, correlation id i32.
 * https://kafka.apache.org/protocol#protocol_messages
 */

export const API_PRODUCE = 0;
export const API_METADATA = 3;

/** The request header and size prefix; `bodyBytes` is what follows the header. */
export function requestHeader(apiKey: number, apiVersion: number, correlationId: number, clientId: string, bodyBytes: number): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const header = Buffer.allocUnsafe(4 + 2 + 2 + 4 + 2 + client.length);
  header.writeInt32BE(header.length - 4 + bodyBytes, 0);
  header.writeInt16BE(apiKey, 4);
  header.writeInt16BE(apiVersion, 6);
  header.writeInt32BE(correlationId, 8);
  header.writeInt16BE(client.length, 12);
  client.copy(header, 14);
  return header;
}

/** Metadata v4 body for one topic, without auto-creation (topics are made by ensureTopics). */
export function metadataRequestBody(topics: readonly string[]): Buffer {
  const names = topics.map((t) => Buffer.from(t, 'utf8'));
  const body = Buffer.allocUnsafe(4 + names.reduce((n, b) => n + 2 + b.length, 0) + 1);
  let at = body.writeInt32BE(names.length, 0);
  for (const name of names) {
    at = body.writeInt16BE(name.length, at);
    at += name.copy(body, at);
  }
  body.writeInt8(0, at); // allow_auto_topic_creation: false
  return body;
}

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface TopicMetadata {
  name: string;
  errorCode: number;
  /** Leader node id by partition index; -1 while a partition has none. */
  leaders: number[];
  /** Per partition error code (LEADER_NOT_AVAILABLE while an election runs). */
  partitionErrors: number[];
}

export interface Metadata {
  brokers: BrokerAddress[];
  topics: TopicMetadata[];
}

/** Produce v3 body: one topic, one batch per partition. Returned as the pieces to write (no copy of the batches). */
export function produceRequestBody(topic: string, batches: ReadonlyArray<{ partition: number; batch: Buffer }>, acks: number, timeoutMs: number): Buffer[] {
  return produceRequestBodyTopics([{ topic, batches }], acks, timeoutMs, null);
}

/** Produce v3 body for several topics; a transaction's batches name its transactional id. */
export function produceRequestBodyTopics(topics: ReadonlyArray<{ topic: string; batches: ReadonlyArray<{ partition: number; batch: Buffer }> }>, acks: number, timeoutMs: number, transactionalId: string | null): Buffer[] {
  const id = transactionalId === null ? null : Buffer.from(transactionalId, 'utf8');
  const head = Buffer.allocUnsafe(2 + (id?.length ?? 0) + 2 + 4 + 4);
  let at = head.writeInt16BE(id ? id.length : -1, 0);
  if (id) at += id.copy(head, at);
  at = head.writeInt16BE(acks, at);
  at = head.writeInt32BE(timeoutMs, at);
  head.writeInt32BE(topics.length, at);
  const pieces: Buffer[] = [head];
  for (const { topic, batches } of topics) {
    const name = Buffer.from(topic, 'utf8');
    const topicHead = Buffer.allocUnsafe(2 + name.length + 4);
    name.copy(topicHead, topicHead.writeInt16BE(name.length, 0));
    topicHead.writeInt32BE(batches.length, 2 + name.length);
    pieces.push(topicHead);
    for (const { partition, batch } of batches) {
      const prefix = Buffer.allocUnsafe(8);
      prefix.writeInt32BE(partition, 0);
      prefix.writeInt32BE(batch.length, 4);
      pieces.push(prefix, batch);
    }
  }
  return pieces;
}

export interface PartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  baseOffset: bigint;
}

/** A cursor over a response body; a short or malformed response throws rather than reads garbage. */
export class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  int8(): number { const v = this.buf.readInt8(this.at); this.at += 1; return v; }
  int16(): number { const v = this.buf.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { const v = this.buf.readInt32BE(this.at); this.at += 4; return v; }
  int64(): bigint { const v = this.buf.readBigInt64BE(this.at); this.at += 8; return v; }
  string(): string {
    const length = this.int16();
    if (length < 0) return '';
    if (this.at + length > this.buf.length) throw new RangeError('response ends inside a string');
    const v = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return v;
  }
  /** A nullable BYTES field as a view of the response (no copy); null when absent. */
  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    if (this.at + length > this.buf.length) throw new RangeError('response ends inside a bytes field');
    const v = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return v;
  }
  /** A nullable array: null when its length is -1. */
  nullableArray<T>(item: () => T): T[] | null {
    const length = this.buf.readInt32BE(this.at);
    if (length < 0) {
      this.at += 4;
      return null;
    }
    return this.array(item);
  }
  array<T>(item: () => T): T[] {
    const length = this.int32();
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(item());
    return out;
  }
}

/** Metadata v4 response body (after the correlation id). */
export function decodeMetadata(body: Buffer): Metadata {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const brokers = r.array(() => {
    const nodeId = r.int32();
    const host = r.string();
    const port = r.int32();
    r.string(); // rack
    return { nodeId, host, port };
  });
  r.string(); // cluster_id
  r.int32(); // controller_id
  const topics = r.array(() => {
    const errorCode = r.int16();
    const name = r.string();
    r.int8(); // is_internal
    const leaders: number[] = [];
    const partitionErrors: number[] = [];
    r.array(() => {
      const error = r.int16();
      const index = r.int32();
      const leader = r.int32();
      r.array(() => r.int32()); // replicas
      r.array(() => r.int32()); // isr
      leaders[index] = leader;
      partitionErrors[index] = error;
    });
    return { name, errorCode, leaders, partitionErrors };
  });
  return { brokers, topics };
}

/** Produce v3 response body: the result of each partition sent. */
export function decodeProduce(body: Buffer): PartitionResult[] {
  const r = new Reader(body);
  const results: PartitionResult[] = [];
  r.array(() => {
    const topic = r.string();
    r.array(() => {
      const partition = r.int32();
      const errorCode = r.int16();
      const baseOffset = r.int64();
      r.int64(); // log_append_time_ms
      results.push({ topic, partition, errorCode, baseOffset });
    });
  });
  r.int32(); // throttle_time_ms
  return results;
}

/**
 * The error codes a producer meets, by name; `retriable` ones mean the broker wrote nothing and
 * a later attempt (after a metadata refresh for the leader ones) can succeed.
 */
const ERRORS: Record<number, { name: string; retriable: boolean; staleLeader?: boolean }> = {
  1: { name: 'OFFSET_OUT_OF_RANGE', retriable: false },
  2: { name: 'CORRUPT_MESSAGE', retriable: false },
  3: { name: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true, staleLeader: true },
  5: { name: 'LEADER_NOT_AVAILABLE', retriable: true, staleLeader: true },
  6: { name: 'NOT_LEADER_OR_FOLLOWER', retriable: true, staleLeader: true },
  7: { name: 'REQUEST_TIMED_OUT', retriable: true },
  10: { name: 'MESSAGE_TOO_LARGE', retriable: false },
  13: { name: 'NETWORK_EXCEPTION', retriable: true, staleLeader: true },
  14: { name: 'COORDINATOR_LOAD_IN_PROGRESS', retriable: true },
  15: { name: 'COORDINATOR_NOT_AVAILABLE', retriable: true },
  16: { name: 'NOT_COORDINATOR', retriable: true },
  17: { name: 'INVALID_TOPIC_EXCEPTION', retriable: false },
  18: { name: 'RECORD_LIST_TOO_LARGE', retriable: false },
  19: { name: 'NOT_ENOUGH_REPLICAS', retriable: true },
  20: { name: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', retriable: true },
  21: { name: 'INVALID_REQUIRED_ACKS', retriable: false },
  29: { name: 'TOPIC_AUTHORIZATION_FAILED', retriable: false },
  35: { name: 'UNSUPPORTED_VERSION', retriable: false },
  42: { name: 'INVALID_REQUEST', retriable: false },
  43: { name: 'UNSUPPORTED_FOR_MESSAGE_FORMAT', retriable: false },
  45: { name: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false },
  46: { name: 'DUPLICATE_SEQUENCE_NUMBER', retriable: false },
  47: { name: 'INVALID_PRODUCER_EPOCH', retriable: false },
  48: { name: 'INVALID_TXN_STATE', retriable: false },
  49: { name: 'INVALID_PRODUCER_ID_MAPPING', retriable: false },
  50: { name: 'INVALID_TRANSACTION_TIMEOUT', retriable: false },
  51: { name: 'CONCURRENT_TRANSACTIONS', retriable: true },
  53: { name: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', retriable: false },
  56: { name: 'KAFKA_STORAGE_ERROR', retriable: true, staleLeader: true },
  74: { name: 'FENCED_LEADER_EPOCH', retriable: true, staleLeader: true },
  75: { name: 'UNKNOWN_LEADER_EPOCH', retriable: true, staleLeader: true },
  87: { name: 'INVALID_RECORD', retriable: false },
  90: { name: 'PRODUCER_FENCED', retriable: false },
};

export function describeError(code: number): { name: string; retriable: boolean; staleLeader: boolean } {
  const known = ERRORS[code];
  return known ? { name: known.name, retriable: known.retriable, staleLeader: known.staleLeader ?? false } : { name: `KAFKA_ERROR_${code}`, retriable: false, staleLeader: false };
}
