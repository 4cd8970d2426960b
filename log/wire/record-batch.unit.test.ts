import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { encodeRecordBatch, encodeRecordBatches, varintSize, type BatchRecord } from './record-batch.js';

// kafkajs's own encoders (the pinned 2.2.4), as the oracle for the bytes: the broker accepts what they write.
const require = createRequire(import.meta.url);
const KafkaRecordBatch = (require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch(options: object): Promise<{ buffer: Buffer }> }).RecordBatch;
const KafkaRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown };

async function kafkajsBytes(records: BatchRecord[], timestampMs: number): Promise<Buffer> {
  const encoded = records.map((r, i) => KafkaRecord({
    offsetDelta: i, timestampDelta: 0,
    key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), headers: r.headers,
  }));
  const batch = await KafkaRecordBatch({
    records: encoded, firstTimestamp: timestampMs, maxTimestamp: timestampMs, lastOffsetDelta: records.length - 1,
    partitionLeaderEpoch: -1, producerId: Long.fromValue(-1), producerEpoch: -1, firstSequence: -1,
  });
  return batch.buffer;
}

describe('encodeRecordBatch', () => {
  it('writes the bytes kafkajs writes for the same batch: keys, values, tombstones, headers, long records', async () => {
    const records: BatchRecord[] = [
      { key: 'tree-1', value: Buffer.from('a span') },
      { key: 'trée-ü', value: Buffer.alloc(300, 7), headers: { reason: 'bad field', 'x-ü': 'ß' } },
      { key: 'tombstone', value: null },
      { key: null, value: Buffer.alloc(70_000, 1) }, // lengths that need three varint bytes
      { key: 'k', value: new Uint8Array(0), headers: {} },
    ];
    const ts = 1_763_800_000_123;
    expect(encodeRecordBatch(records, ts).equals(await kafkajsBytes(records, ts))).toBe(true);
  });

  it('matches kafkajs for a batch of 1,000 records (offset deltas past one varint byte)', async () => {
    const records = Array.from({ length: 1_000 }, (_, i) => ({ key: `tree-${i % 17}`, value: Buffer.from(`span ${i}`) }));
    expect(encodeRecordBatch(records, 5).equals(await kafkajsBytes(records, 5))).toBe(true);
  });

  it('splits records into batches of at most the size asked, in order, each as encodeRecordBatch writes it', () => {
    const records = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(100 + i, i) }));
    const batches = encodeRecordBatches(records, 9, 1_000);
    expect(batches.length).toBeGreaterThan(4);
    expect(batches.every((b) => b.length <= 1_000)).toBe(true);
    let at = 0;
    for (const batch of batches) {
      const count = batch.readInt32BE(57);
      expect(batch.equals(encodeRecordBatch(records.slice(at, at + count), 9))).toBe(true);
      at += count;
    }
    expect(at).toBe(40);
    // A record over the limit goes alone (the broker names it), the others around it as usual.
    const withHuge = [records[0]!, { key: 'huge', value: Buffer.alloc(5_000) }, records[1]!];
    expect(encodeRecordBatches(withHuge, 9, 1_000).map((b) => b.readInt32BE(57))).toEqual([1, 1, 1]);
    expect(encodeRecordBatches(records.slice(0, 3), 9, 1_000)).toHaveLength(1);
  });

  it('refuses an empty batch', () => {
    expect(() => encodeRecordBatch([], 1)).toThrow(/at least one record/);
  });

  it('sizes zigzag varints', () => {
    expect([0, -1, 63, 64, -64, -65, 8191, 8192, 2 ** 31 - 1].map(varintSize)).toEqual([1, 1, 1, 2, 1, 2, 2, 3, 5]);
  });
});
