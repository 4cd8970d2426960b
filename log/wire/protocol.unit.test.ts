import { describe, expect, it } from 'vitest';
import { decodeMetadata, decodeProduce, describeError, produceRequestBody, produceRequestBodyTopics, requestHeader } from './protocol.js';

describe('Kafka protocol pieces', () => {
  it('frames a request: size counts header and body, then api key, version, correlation id, client id', () => {
    const header = requestHeader(0, 3, 42, 'fb', 100);
    expect(header.readInt32BE(0)).toBe(header.length - 4 + 100);
    expect([header.readInt16BE(4), header.readInt16BE(6), header.readInt32BE(8), header.readInt16BE(12)]).toEqual([0, 3, 42, 2]);
    expect(header.subarray(14).toString()).toBe('fb');
  });

  it('lays out a produce body without copying the batches', () => {
    const batch = Buffer.from('batch');
    const pieces = produceRequestBody('spans', [{ partition: 4, batch }], -1, 30_000);
    expect(pieces[3]).toBe(batch);
    const head = pieces[0]!;
    expect([head.readInt16BE(0), head.readInt16BE(2), head.readInt32BE(4), head.readInt32BE(8)]).toEqual([-1, -1, 30_000, 1]);
    expect([pieces[1]!.readInt16BE(0), pieces[1]!.subarray(2, 7).toString(), pieces[1]!.readInt32BE(7)]).toEqual([5, 'spans', 1]);
    expect(pieces[2]!.readInt32BE(0)).toBe(4);
    expect(pieces[2]!.readInt32BE(4)).toBe(5);
  });

  it('names the transactional id of a transaction\'s produce, and lays out several topics', () => {
    const pieces = produceRequestBodyTopics([{ topic: 'a', batches: [{ partition: 0, batch: Buffer.from('x') }] }, { topic: 'bb', batches: [] }], -1, 1_000, 'txn-1');
    const head = pieces[0]!;
    expect([head.readInt16BE(0), head.subarray(2, 7).toString(), head.readInt16BE(7), head.readInt32BE(9), head.readInt32BE(13)]).toEqual([5, 'txn-1', -1, 1_000, 2]);
    expect(pieces.map((p) => p.length)).toEqual([17, 2 + 1 + 4, 8, 1, 2 + 2 + 4]);
  });

  it('decodes a produce response, and a truncated one throws instead of reading garbage', () => {
    const body = Buffer.alloc(4 + 2 + 5 + 4 + 4 + 2 + 8 + 8 + 4);
    let at = body.writeInt32BE(1, 0);
    at = body.writeInt16BE(5, at);
    at += body.write('spans', at);
    at = body.writeInt32BE(1, at);
    at = body.writeInt32BE(2, at);
    at = body.writeInt16BE(6, at);
    at = body.writeBigInt64BE(77n, at);
    at = body.writeBigInt64BE(-1n, at);
    body.writeInt32BE(0, at);
    expect(decodeProduce(body)).toEqual([{ topic: 'spans', partition: 2, errorCode: 6, baseOffset: 77n }]);
    expect(() => decodeProduce(body.subarray(0, 20))).toThrow(RangeError);
    expect(() => decodeMetadata(Buffer.alloc(3))).toThrow(RangeError);
  });

  it('names error codes and says which a retry can cure', () => {
    expect(describeError(6)).toEqual({ name: 'NOT_LEADER_OR_FOLLOWER', retriable: true, staleLeader: true });
    expect(describeError(10)).toEqual({ name: 'MESSAGE_TOO_LARGE', retriable: false, staleLeader: false });
    expect(describeError(999)).toEqual({ name: 'KAFKA_ERROR_999', retriable: false, staleLeader: false });
  });
});
