/**
 * The requests of a transactional producer besides Produce, as bytes: FindCoordinator v1 (which
 * broker coordinates a transactional id), InitProducerId v0 (a producer id and epoch for it,
 * fencing older holders), AddPartitionsToTxn v0 (the partitions a transaction writes, so the
 * coordinator marks them at its end) and EndTxn v0 (commit or abort). All are served from Kafka
 * 0.11 through 4.x (4.0 dropped FindCoordinator v0, not v1). Pure, no I/O.
 * https://kafka.apache.org/protocol#protocol_messages
 */
import { Reader } from './protocol.js';

export const API_FIND_COORDINATOR = 10;
export const API_INIT_PRODUCER_ID = 22;
export const API_ADD_PARTITIONS_TO_TXN = 24;
export const API_END_TXN = 26;

/** FindCoordinator's key type for a transactional id (0 is a consumer group). */
export const COORDINATOR_TRANSACTION = 1;

/** Writes Kafka STRING fields and fixed-width ones into an exactly-sized buffer. */
class Writer {
  private at = 0;
  readonly buf: Buffer;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  static stringBytes(value: string): number {
    return 2 + Buffer.byteLength(value, 'utf8');
  }
  string(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    this.at = this.buf.writeInt16BE(length, this.at);
    this.at += this.buf.write(value, this.at, 'utf8');
    return this;
  }
  int8(v: number): this { this.at = this.buf.writeInt8(v, this.at); return this; }
  int16(v: number): this { this.at = this.buf.writeInt16BE(v, this.at); return this; }
  int32(v: number): this { this.at = this.buf.writeInt32BE(v, this.at); return this; }
  int64(v: bigint): this { this.at = this.buf.writeBigInt64BE(v, this.at); return this; }
  done(): Buffer {
    if (this.at !== this.buf.length) throw new Error(`request size mismatch: wrote ${this.at} of ${this.buf.length} bytes`);
    return this.buf;
  }
}

export function findCoordinatorBody(key: string, keyType: number): Buffer {
  return new Writer(Writer.stringBytes(key) + 1).string(key).int8(keyType).done();
}

export interface Coordinator {
  errorCode: number;
  nodeId: number;
  host: string;
  port: number;
}

export function decodeFindCoordinator(body: Buffer): Coordinator {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const errorCode = r.int16();
  r.string(); // error_message
  return { errorCode, nodeId: r.int32(), host: r.string(), port: r.int32() };
}

export function initProducerIdBody(transactionalId: string, transactionTimeoutMs: number): Buffer {
  return new Writer(Writer.stringBytes(transactionalId) + 4).string(transactionalId).int32(transactionTimeoutMs).done();
}

export interface ProducerIdentity {
  errorCode: number;
  producerId: bigint;
  epoch: number;
}

export function decodeInitProducerId(body: Buffer): ProducerIdentity {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  return { errorCode: r.int16(), producerId: r.int64(), epoch: r.int16() };
}

export interface TxnIdentity {
  transactionalId: string;
  producerId: bigint;
  epoch: number;
}

export function addPartitionsToTxnBody(txn: TxnIdentity, topics: ReadonlyArray<{ topic: string; partitions: readonly number[] }>): Buffer {
  let size = Writer.stringBytes(txn.transactionalId) + 8 + 2 + 4;
  for (const { topic, partitions } of topics) size += Writer.stringBytes(topic) + 4 + 4 * partitions.length;
  const w = new Writer(size).string(txn.transactionalId).int64(txn.producerId).int16(txn.epoch).int32(topics.length);
  for (const { topic, partitions } of topics) {
    w.string(topic).int32(partitions.length);
    for (const partition of partitions) w.int32(partition);
  }
  return w.done();
}

export function decodeAddPartitionsToTxn(body: Buffer): Array<{ topic: string; partition: number; errorCode: number }> {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const out: Array<{ topic: string; partition: number; errorCode: number }> = [];
  r.array(() => {
    const topic = r.string();
    r.array(() => out.push({ topic, partition: r.int32(), errorCode: r.int16() }));
  });
  return out;
}

export function endTxnBody(txn: TxnIdentity, commit: boolean): Buffer {
  return new Writer(Writer.stringBytes(txn.transactionalId) + 8 + 2 + 1).string(txn.transactionalId).int64(txn.producerId).int16(txn.epoch).int8(commit ? 1 : 0).done();
}

export function decodeEndTxn(body: Buffer): number {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  return r.int16();
}
