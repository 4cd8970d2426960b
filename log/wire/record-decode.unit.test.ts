import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import { encodeRecordBatch, type BatchRecord } from './record-batch.js';
import { decodeRecords, RecordDecodeError, type DecodeOptions } from './record-decode.js';

// kafkajs's encoders (the pinned 2.2.4) as a second writer: gzip and transactional batches.
const require = createRequire(import.meta.url);
const KafkaRecordBatch = (require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch(options: object): Promise<{ buffer: Buffer }> }).RecordBatch;
const KafkaRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown; fromString(v: string): unknown };

const options = (over: Partial<DecodeOptions> = {}): DecodeOptions => ({ topic: 'spans', partition: 3, fromOffset: 0n, aborted: null, readCommitted: true, checkCrcs: true, ...over });

/** A batch as the broker stores it: its base offset (and optionally transactional bits) filled in, CRC recomputed. */
function stored(batch: Buffer, baseOffset: bigint, patch: { attributes?: number; producerId?: bigint } = {}): Buffer {
  const out = Buffer.from(batch);
  out.writeBigInt64BE(baseOffset, 0);
  if (patch.attributes !== undefined) out.writeInt16BE(patch.attributes, 21);
  if (patch.producerId !== undefined) out.writeBigInt64BE(patch.producerId, 43);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return out;
}

const values = (records: Buffer, over: Partial<DecodeOptions> = {}) => decodeRecords(records, options(over)).messages.map((m) => m.value?.toString() ?? null);

/** A transaction's records from `producerId`, and its end marker (a control batch: ABORT or COMMIT). */
function transactional(producerId: bigint, baseOffset: bigint, texts: string[]): Buffer {
  return stored(encodeRecordBatch(texts.map((t) => ({ key: 'k', value: Buffer.from(t) })), 1), baseOffset, { attributes: 0x10, producerId });
}
function marker(producerId: bigint, offset: bigint, type: 'abort' | 'commit'): Buffer {
  const key = Buffer.from([0, 0, 0, type === 'abort' ? 0 : 1]);
  // The encoder writes keys as strings: take its batch header, then the marker record by hand.
  const header = encodeRecordBatch([{ key: null, value: null }], 1).subarray(0, 61);
  const out = Buffer.concat([header, encodeControlRecord(key)]);
  out.writeInt32BE(out.length - 12, 8);
  return stored(out, offset, { attributes: 0x30, producerId });
}
function encodeControlRecord(key: Buffer): Buffer {
  const value = Buffer.from([0, 0, 0, 0, 0, 0]);
  const body = Buffer.concat([Buffer.from([0, 0, 0, key.length * 2]), key, Buffer.from([value.length * 2]), value, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([body.length * 2]), body]);
}

describe('decodeRecords', () => {
  it('reads back what the producer writes: keys, null keys, tombstones, headers, unicode, long values, offsets and timestamps', () => {
    const records: BatchRecord[] = [
      { key: 'tree-1', value: Buffer.from('a span') },
      { key: 'trée-ü', value: Buffer.alloc(300, 7), headers: { reason: 'bad field', 'x-ü': 'ß' } },
      { key: 'tombstone', value: null },
      { key: null, value: Buffer.alloc(70_000, 1) },
      { key: 'k', value: new Uint8Array(0), headers: {} },
    ];
    const { messages, nextOffset } = decodeRecords(stored(encodeRecordBatch(records, 1_763_800_000_123), 100n), options({ fromOffset: 100n }));
    expect(nextOffset).toBe(105n);
    expect(messages.map((m) => [m.topic, m.partition, m.offset, m.key, m.timestampMs])).toEqual([
      ['spans', 3, '100', 'tree-1', 1_763_800_000_123], ['spans', 3, '101', 'trée-ü', 1_763_800_000_123], ['spans', 3, '102', 'tombstone', 1_763_800_000_123],
      ['spans', 3, '103', null, 1_763_800_000_123], ['spans', 3, '104', 'k', 1_763_800_000_123],
    ]);
    expect(messages[0]!.value!.toString()).toBe('a span');
    expect(messages[1]!.value!.equals(Buffer.alloc(300, 7))).toBe(true);
    expect(messages[1]!.headers).toEqual({ reason: 'bad field', 'x-ü': 'ß' });
    expect(messages[2]!.value).toBeNull();
    expect(messages[3]!.value!.length).toBe(70_000);
    expect(messages[4]!.value!.length).toBe(0);
  });

  it('reads gzip batches and per-record timestamps as kafkajs writes them', async () => {
    const encoded = [0, 1, 2].map((i) => KafkaRecord({ offsetDelta: i, timestampDelta: i * 1_000, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: { h: `${i}` } }));
    const batch = await KafkaRecordBatch({ compression: 1, records: encoded, firstTimestamp: 5_000, maxTimestamp: 7_000, lastOffsetDelta: 2, producerId: Long.fromValue(-1), producerEpoch: -1, firstSequence: -1, partitionLeaderEpoch: 0 });
    const { messages } = decodeRecords(stored(batch.buffer, 40n), options({ fromOffset: 40n }));
    expect(messages.map((m) => [m.offset, m.key, m.value!.toString(), m.timestampMs, m.headers])).toEqual([
      ['40', 'k0', 'v0', 5_000, { h: '0' }], ['41', 'k1', 'v1', 6_000, { h: '1' }], ['42', 'k2', 'v2', 7_000, { h: '2' }],
    ]);
  });

  it('starts at the offset asked for, inside a batch, and skips batches wholly before it', () => {
    const first = stored(encodeRecordBatch([{ key: 'a', value: Buffer.from('0') }, { key: 'a', value: Buffer.from('1') }], 1), 0n);
    const second = stored(encodeRecordBatch([{ key: 'a', value: Buffer.from('2') }, { key: 'a', value: Buffer.from('3') }, { key: 'a', value: Buffer.from('4') }], 1), 2n);
    const both = Buffer.concat([first, second]);
    expect(values(both, { fromOffset: 3n })).toEqual(['3', '4']);
    expect(values(both, { fromOffset: 1n })).toEqual(['1', '2', '3', '4']);
    expect(decodeRecords(both, options({ fromOffset: 3n })).nextOffset).toBe(5n);
  });

  it('leaves a batch cut off by the byte limit for the next fetch', () => {
    const first = stored(encodeRecordBatch([{ key: 'a', value: Buffer.from('0') }], 1), 0n);
    const second = stored(encodeRecordBatch([{ key: 'a', value: Buffer.from('1') }], 1), 1n);
    const cut = Buffer.concat([first, second.subarray(0, 30)]);
    expect(decodeRecords(cut, options())).toMatchObject({ nextOffset: 1n });
    expect(values(cut)).toEqual(['0']);
    expect(decodeRecords(Buffer.alloc(0), options({ fromOffset: 9n }))).toEqual({ messages: [], nextOffset: 9n });
  });

  it('refuses a corrupt batch by its CRC, an old message format and a codec it cannot read, naming each', () => {
    const good = stored(encodeRecordBatch([{ key: 'a', value: Buffer.from('payload') }], 1), 0n);
    const corrupt = Buffer.from(good);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 3) ^ 0xff, corrupt.length - 3);
    expect(() => decodeRecords(corrupt, options())).toThrow(/CRC-32C/);
    expect(() => decodeRecords(corrupt, options({ checkCrcs: false }))).not.toThrow();
    const old = Buffer.from(good);
    old[16] = 1;
    expect(() => decodeRecords(old, options())).toThrow(RecordDecodeError);
    expect(() => decodeRecords(old, options())).toThrow(/magic 1/);
    expect(() => decodeRecords(stored(good, 0n, { attributes: 2 }), options())).toThrow(/snappy/);
  });

  it('read_committed: hides aborted transactions up to their abort marker, never delivers markers, keeps committed ones', () => {
    const log = Buffer.concat([
      transactional(7n, 0n, ['x1', 'x2']), // aborted below
      transactional(8n, 2n, ['y1']), // committed below
      marker(7n, 3n, 'abort'),
      marker(8n, 4n, 'commit'),
      transactional(7n, 5n, ['x3']), // a later transaction of 7, committed: visible again
      marker(7n, 6n, 'commit'),
      stored(encodeRecordBatch([{ key: 'k', value: Buffer.from('plain') }], 1), 7n),
    ]);
    expect(values(log, { aborted: [{ producerId: 7n, firstOffset: 0n }] })).toEqual(['y1', 'x3', 'plain']);
    expect(decodeRecords(log, options({ aborted: [{ producerId: 7n, firstOffset: 0n }] })).nextOffset).toBe(8n);
    // read_uncommitted: everything but the markers.
    expect(values(log, { readCommitted: false, aborted: [{ producerId: 7n, firstOffset: 0n }] })).toEqual(['x1', 'x2', 'y1', 'x3', 'plain']);
  });

  it('read_committed: a fetch starting past the first offsets of several aborted transactions hides them all (kafkajs 2.2.4 leaked all but one)', () => {
    const log = Buffer.concat([
      transactional(1n, 1n, ['y1']), transactional(2n, 2n, ['x2']), transactional(1n, 3n, ['y2']),
      marker(2n, 4n, 'abort'), marker(1n, 5n, 'abort'),
      stored(encodeRecordBatch([{ key: 'k', value: Buffer.from('after') }], 1), 6n),
    ]);
    const aborted = [{ producerId: 2n, firstOffset: 0n }, { producerId: 1n, firstOffset: 1n }];
    expect(values(log, { aborted, fromOffset: 1n })).toEqual(['after']);
    expect(values(log.subarray(log.indexOf(transactional(1n, 3n, ['y2']))), { aborted, fromOffset: 3n })).toEqual(['after']);
  });
});
