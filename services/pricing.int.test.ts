/**
 * Pricing at ingest on the real broker and chDB: the processor (whose detectors and tree
 * ledgers count the cost) and the sink (which stores it) price an unpriced model call alike,
 * from the version in effect at the span's time, flag an unknown model without a zero, and
 * apply a tenant's price override published at runtime to the next span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog, LogProducer } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { policyEventCodec, policyEventSchema, priceOverrideCodec, spanEventCodec, type PriceOverride, type SpanEvent } from '../schemas/index.js';
import type { Store } from '../storage/store.js';
import { overrideKey } from '../streams/pricing/index.js';
import { eventually } from '../test/kafka.js';
import { span } from '../test/spans.js';
import type { Processor } from './processor/processor.js';
import type { Sink } from './sink/sink.js';
import { startPipeline, type Pipeline } from '../test/pipeline.js';

const day = (text: string) => Date.parse(`${text}T00:00:00Z`);

describe('pricing at ingest (real Kafka, chDB)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  let processor: Processor;
  let sink: Sink;
  let pipeline: Pipeline;
  let producer: LogProducer;

  beforeAll(async () => {
    pipeline = await startPipeline();
    ({ log, topics, prefix, store, processor, sink } = pipeline);
    producer = await log.producer();
  });

  afterAll(async () => {
    await producer?.close();
    await pipeline?.stop();
  });

  const send = (events: SpanEvent[]) => producer.send(topics.spans, events.map((e) => ({ key: e.treeId, value: spanEventCodec.encode(e) })));

  async function stored(eventIds: string[]) {
    return eventually(`spans ${eventIds.join(', ')} in ClickHouse`, async () => {
      const result = await store.client.query({
        query: 'SELECT event_id, cost_micros, attributes FROM spans FINAL WHERE event_id IN {ids:Array(String)}', query_params: { ids: eventIds }, format: 'JSONEachRow',
      });
      const rows = await result.json<{ event_id: string; cost_micros: string | null; attributes: Record<string, string> }>();
      if (rows.length < eventIds.length) return undefined;
      return new Map(rows.map((r) => [r.event_id, { cost: r.cost_micros === null ? null : Number(r.cost_micros), source: r.attributes['fusebox.cost.source'], version: r.attributes['fusebox.price.version'] ?? null, unpriced: r.attributes['fusebox.cost.unpriced'] ?? null }]));
    }, 60_000);
  }

  const treeCost = (treeId: string, spans: number) => eventually(`the processor to count ${spans} spans of ${treeId}`, () => {
    const tree = processor.engine.snapshot(treeId);
    return tree && tree.seen.length >= spans ? tree.costMicros : undefined;
  }, 60_000);

  it('prices by the version in effect at each span\'s time (gpt-4o changed price on 2024-10-01), in the processor and the sink alike', async () => {
    const call = (eventId: string, at: number, extra: Partial<SpanEvent> = {}) => span({
      eventId, kind: 'llm_call', name: 'plan', tenantId: 'acme', treeId: 'tree-mid', runId: 'tree-mid', provider: 'openai', model: 'gpt-4o-2024-08-06',
      inputTokens: 100_000, outputTokens: 10_000, startTimeMs: at, ...extra,
    });
    await send([
      call('mid-1', day('2024-09-30') + 1_000), // $5 / $15: 500,000 + 150,000
      call('mid-2', day('2024-10-01') + 1_000), // $2.50 / $10: 250,000 + 100,000
      call('mid-3', day('2024-10-02'), { model: 'gpt-17-ultra' }),
      call('mid-4', day('2024-10-02'), { costMicros: 42 }),
    ]);
    const rows = await stored(['mid-1', 'mid-2', 'mid-3', 'mid-4']);
    expect(rows.get('mid-1')).toEqual({ cost: 650_000, source: 'priced', version: 'shipped:openai/gpt-4o@2024-05-13T00:00:00.000Z', unpriced: null });
    expect(rows.get('mid-2')).toEqual({ cost: 350_000, source: 'priced', version: 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z', unpriced: null });
    expect(rows.get('mid-3')).toEqual({ cost: null, source: 'unpriced', version: null, unpriced: 'unknown_model' });
    expect(rows.get('mid-4')).toEqual({ cost: 42, source: 'agent', version: null, unpriced: null });
    expect(await treeCost('tree-mid', 4)).toBe(650_000 + 350_000 + 42);
  });

  it('a tree budget trips on the cost Fusebox priced', async () => {
    const policy = policyEventSchema.parse({ policyId: 'budget', version: 1, tenantId: 'acme', selector: {}, detector: 'tree_budget', params: { maxMicros: '1000000' }, disposition: 'block', changedBy: 'test', changedAtMs: 1 });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
    await eventually('the budget policy in the processor', () => processor.stats().policiesApplied >= 1);
    // Two unpriced calls of $0.60 each (gpt-4o, 2025): only priced do they cross $1.
    await send([1, 2].map((i) => span({ eventId: `budget-${i}`, kind: 'llm_call', name: 'plan', tenantId: 'acme', treeId: 'tree-budget', runId: 'tree-budget', provider: 'openai', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 10_000, startTimeMs: day('2025-01-01') + i })));
    await eventually('a tree_budget trip', () => processor.stats().trips >= 1, 60_000);
    expect(await treeCost('tree-budget', 2)).toBe(1_200_000);
  });

  it('a tenant override published at runtime prices the next spans of that tenant from its effective time, and no other tenant\'s', async () => {
    const override: PriceOverride = {
      tenantId: 'acme', provider: 'openai', model: 'gpt-4o', effectiveFromMs: day('2025-06-01'), inputMicrosPerMTok: 1_000_000, outputMicrosPerMTok: 2_000_000,
      cachedInputMicrosPerMTok: 100_000, note: 'negotiated', changedBy: 'test', changedAtMs: Date.now(),
    };
    await producer.send(topics.prices, [{ key: overrideKey(override), value: priceOverrideCodec.encode(override) }]);
    await eventually('the override in processor and sink', () => processor.stats().pricesApplied >= 1 && sink.stats().pricesApplied >= 1);
    const call = (eventId: string, tenantId: string, at: number) => span({ eventId, kind: 'llm_call', name: 'plan', tenantId, treeId: `tree-${eventId}`, runId: `tree-${eventId}`, provider: 'openai', model: 'gpt-4o', inputTokens: 100_000, outputTokens: 10_000, cachedTokens: 50_000, startTimeMs: at });
    await send([call('ov-before', 'acme', day('2025-05-31')), call('ov-after', 'acme', day('2025-06-01')), call('ov-globex', 'globex', day('2025-06-02'))]);
    const rows = await stored(['ov-before', 'ov-after', 'ov-globex']);
    // shipped: 50k at $2.50 + 50k cached at $1.25 + 10k out at $10 = 125,000 + 62,500 + 100,000
    expect(rows.get('ov-before')).toMatchObject({ cost: 287_500, version: 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z' });
    // override: 50k at $1 + 50k cached at $0.10 + 10k out at $2 = 50,000 + 5,000 + 20,000
    expect(rows.get('ov-after')).toMatchObject({ cost: 75_000, version: 'tenant:openai/gpt-4o@2025-06-01T00:00:00.000Z' });
    expect(rows.get('ov-globex')).toMatchObject({ cost: 287_500, version: 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z' });
    expect(await treeCost('tree-ov-after', 1)).toBe(75_000);
    expect(await treeCost('tree-ov-globex', 1)).toBe(287_500);
  });
});
