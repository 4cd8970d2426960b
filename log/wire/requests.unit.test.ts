import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeFetch, decodeListOffsets, fetchRequestBody, listOffsetsRequestBody, READ_COMMITTED } from './fetch-protocol.js';
import { addPartitionsToTxnBody, decodeAddPartitionsToTxn, decodeEndTxn, decodeFindCoordinator, decodeInitProducerId, endTxnBody, findCoordinatorBody, initProducerIdBody } from './txn-protocol.js';

// kafkajs's request encoders (the pinned 2.2.4) as the oracle for the bytes: brokers accept what they write.
const require = createRequire(import.meta.url);
type Encode = (options: object) => { encode(): Promise<{ buffer: Buffer }> };
const kafkajs = (path: string) => async (options: object) => (await (require(`kafkajs/src/protocol/requests/${path}/request`) as Encode)(options).encode()).buffer;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number | string): unknown };

const txn = { transactionalId: 'fusebox-processor.p3', producerId: 4_000_000_001n, epoch: 7 };

describe('transaction and fetch requests, byte for byte as kafkajs writes them', () => {
  it('FindCoordinator v1, InitProducerId v0, AddPartitionsToTxn v0, EndTxn v0', async () => {
    expect(findCoordinatorBody('tx-ü', 1).equals(await kafkajs('findCoordinator/v1')({ coordinatorKey: 'tx-ü', coordinatorType: 1 }))).toBe(true);
    expect(initProducerIdBody(txn.transactionalId, 30_000).equals(await kafkajs('initProducerId/v0')({ transactionalId: txn.transactionalId, transactionTimeout: 30_000 }))).toBe(true);
    const topics = [{ topic: 'fb.control', partitions: [3] }, { topic: 'fb.processor-state', partitions: [3, 0] }];
    expect(addPartitionsToTxnBody(txn, topics).equals(await kafkajs('addPartitionsToTxn/v0')({ transactionalId: txn.transactionalId, producerId: Long.fromValue('4000000001'), producerEpoch: 7, topics }))).toBe(true);
    for (const commit of [true, false]) {
      expect(endTxnBody(txn, commit).equals(await kafkajs('endTxn/v0')({ transactionalId: txn.transactionalId, producerId: Long.fromValue('4000000001'), producerEpoch: 7, transactionResult: commit }))).toBe(true);
    }
  });

  it('Fetch v4 and ListOffsets v2', async () => {
    const topics = [{ topic: 'fb.spans', partitions: [{ partition: 0, offset: 12_345_678_901n, maxBytes: 1_048_576 }, { partition: 5, offset: 0n, maxBytes: 1_048_576 }] }, { topic: 'fb.control', partitions: [{ partition: 2, offset: 9n, maxBytes: 10 }] }];
    const ours = fetchRequestBody({ maxWaitMs: 25, minBytes: 1, maxBytes: 16_777_216, isolation: READ_COMMITTED }, topics);
    const theirs = await kafkajs('fetch/v4')({
      replicaId: -1, maxWaitTime: 25, minBytes: 1, maxBytes: 16_777_216, isolationLevel: 1,
      topics: topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, fetchOffset: p.offset.toString(), maxBytes: p.maxBytes })) })),
    });
    expect(ours.equals(theirs)).toBe(true);
    expect(listOffsetsRequestBody(READ_COMMITTED, 'fb.spans', [0, 4], -2n).equals(await kafkajs('listOffsets/v2')({ replicaId: -1, isolationLevel: 1, topics: [{ topic: 'fb.spans', partitions: [{ partition: 0, timestamp: -2 }, { partition: 4, timestamp: -2 }] }] }))).toBe(true);
  });
});

/** A response body from its fields, big-endian, for the decoders. */
function body(...fields: Array<['i8' | 'i16' | 'i32', number] | ['i64', bigint] | ['str', string | null] | ['bytes', Buffer | null]>): Buffer {
  const parts = fields.map(([type, v]) => {
    if (type === 'str') {
      if (v === null) return Buffer.from([0xff, 0xff]);
      const s = Buffer.from(v as string);
      const b = Buffer.alloc(2);
      b.writeInt16BE(s.length);
      return Buffer.concat([b, s]);
    }
    if (type === 'bytes') {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v === null ? -1 : (v as Buffer).length);
      return v === null ? b : Buffer.concat([b, v as Buffer]);
    }
    const b = Buffer.alloc({ i8: 1, i16: 2, i32: 4, i64: 8 }[type]);
    if (type === 'i8') b.writeInt8(v as number);
    else if (type === 'i16') b.writeInt16BE(v as number);
    else if (type === 'i32') b.writeInt32BE(v as number);
    else b.writeBigInt64BE(v as bigint);
    return b;
  });
  return Buffer.concat(parts);
}

describe('transaction and fetch responses', () => {
  it('decodes the coordinator, the producer id, per-partition errors and EndTxn, and a truncated answer throws', () => {
    expect(decodeFindCoordinator(body(['i32', 0], ['i16', 0], ['str', null], ['i32', 1], ['str', '127.0.0.1'], ['i32', 9092]))).toEqual({ errorCode: 0, nodeId: 1, host: '127.0.0.1', port: 9092 });
    expect(decodeInitProducerId(body(['i32', 0], ['i16', 0], ['i64', 4_000_000_001n], ['i16', 7]))).toEqual({ errorCode: 0, producerId: 4_000_000_001n, epoch: 7 });
    expect(decodeAddPartitionsToTxn(body(['i32', 0], ['i32', 1], ['str', 'fb.control'], ['i32', 2], ['i32', 3], ['i16', 0], ['i32', 4], ['i16', 51]))).toEqual([
      { topic: 'fb.control', partition: 3, errorCode: 0 }, { topic: 'fb.control', partition: 4, errorCode: 51 },
    ]);
    expect(decodeEndTxn(body(['i32', 0], ['i16', 90]))).toBe(90);
    expect(() => decodeInitProducerId(Buffer.alloc(7))).toThrow(RangeError);
  });

  it('decodes a fetch answer with and without aborted transactions, records as a view, and ListOffsets', () => {
    const records = Buffer.from('batches');
    const answer = body(['i32', 0], ['i32', 1], ['str', 'fb.spans'], ['i32', 2],
      ['i32', 0], ['i16', 0], ['i64', 100n], ['i64', 90n], ['i32', 1], ['i64', 42n], ['i64', 80n], ['bytes', records],
      ['i32', 1], ['i16', 1], ['i64', -1n], ['i64', -1n], ['i32', -1], ['bytes', null]);
    const [first, second] = decodeFetch(answer);
    expect(first).toMatchObject({ topic: 'fb.spans', partition: 0, errorCode: 0, highWatermark: 100n, lastStableOffset: 90n, aborted: [{ producerId: 42n, firstOffset: 80n }] });
    expect(first!.records.toString()).toBe('batches');
    expect(first!.records.buffer).toBe(answer.buffer); // a view, not a copy
    expect(second).toMatchObject({ partition: 1, errorCode: 1, aborted: null, records: Buffer.alloc(0) });
    expect(decodeListOffsets(body(['i32', 0], ['i32', 1], ['str', 'fb.spans'], ['i32', 1], ['i32', 4], ['i16', 0], ['i64', -1n], ['i64', 777n]))).toEqual([{ topic: 'fb.spans', partition: 4, errorCode: 0, offset: 777n }]);
  });
});
