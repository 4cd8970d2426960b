import { describe, expect, it } from 'vitest';
import { spanEventCodec, type SpanEvent } from '../schemas/index.js';
import { createEncodedSpans, unpack } from './encoded-spans.js';

const span = (i: number, over: Partial<SpanEvent> = {}): SpanEvent => ({
  eventId: `e-${i}`, tenantId: 't', agentId: 'a', runId: `run-${i % 3}`, parentRunId: null, treeId: `tree-${i % 3}`, spanId: `s-${i}`, parentSpanId: null,
  kind: 'tool_call', name: `tool ${i} ✓`, status: 'ok', error: null, startTimeMs: 1_700_000_000_000 + i, endTimeMs: 1_700_000_000_001 + i,
  model: null, provider: null, inputTokens: i, outputTokens: 2 ** 40, cachedTokens: 0, costMicros: i % 2 ? null : 1_500_000, argsHash: 'h', args: null,
  outputHash: null, output: null, userId: null, sessionId: null, edge: null, attributes: { k: 'v' }, ...over,
});

describe('encoded spans', () => {
  it('given spans added, packs each batch to the same bytes, keys and partitions the codec and the caller gave', () => {
    const spans = createEncodedSpans();
    const all = Array.from({ length: 50 }, (_, i) => span(i));
    const seqs = all.map((s, i) => spans.add(s, s.treeId, i % 4));
    for (const batch of [seqs.slice(0, 20), seqs.slice(20)]) {
      const messages = unpack(spans.pack(batch));
      expect(messages.map((m) => m.value)).toEqual(batch.map((seq) => spanEventCodec.encode(all[seq]!)));
      expect(messages.map((m) => [m.key, m.partition])).toEqual(batch.map((seq) => [all[seq]!.treeId, seq % 4]));
      expect(spans.messages(batch)).toEqual(messages);
    }
  });

  it('given a gap where spans were dropped, packs the rest in order', () => {
    const spans = createEncodedSpans();
    const all = Array.from({ length: 10 }, (_, i) => span(i));
    const seqs = all.map((s) => spans.add(s, s.treeId, 0));
    const batch = [seqs[0]!, seqs[1]!, seqs[5]!, seqs[6]!, seqs[9]!];
    expect(unpack(spans.pack(batch)).map((m) => spanEventCodec.decode(m.value!).eventId)).toEqual(['e-0', 'e-1', 'e-5', 'e-6', 'e-9']);
  });

  it('given spans larger than a chunk, gives each a chunk of its own size and frees chunks below the mark', () => {
    const spans = createEncodedSpans();
    const big = (i: number) => span(i, { args: 'x'.repeat(200_000) });
    const seqs = [0, 1, 2, 3].map((i) => spans.add(big(i), 'k', 0));
    expect(spans.chunkCount).toBeGreaterThan(1);
    expect(spanEventCodec.decode(spans.messages([seqs[3]!])[0]!.value!).eventId).toBe('e-3');
    spans.release(seqs[3]!);
    expect(spans.chunkCount).toBe(1);
    expect(() => spans.pack([seqs[0]!])).toThrow(RangeError);
    expect(unpack(spans.pack([seqs[3]!]))[0]!.value).toEqual(spanEventCodec.encode(big(3)));
  });

  it('given a span the schema refuses, throws the codec\'s error and keeps nothing', () => {
    const spans = createEncodedSpans();
    const first = spans.add(span(0), 'k', 0);
    expect(() => spans.add(span(1, { kind: 'bogus' as SpanEvent['kind'] }), 'k', 0)).toThrow(/SpanEvent: kind/);
    const next = spans.add(span(2), 'k', 0);
    expect(next).toBe(first + 1);
    expect(unpack(spans.pack([first, next])).map((m) => spanEventCodec.decode(m.value!).eventId)).toEqual(['e-0', 'e-2']);
  });
});
