/**
 * Prices in ClickHouse (real chDB): the shipped list synced idempotently into model_prices, and
 * reprice recomputing a period exactly: report totals (cost_ledger) equal the sum of the spans
 * and the hand-computed cost, agent costs untouched, a second run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSpans } from '../test/api.js';
import { span } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import { createPriceTable, priceSpan, type ListPrice, type TenantPrice } from '../streams/pricing/index.js';
import { reprice } from './reprice.js';
import type { Store } from './store.js';
import { costReport } from './tables/cost-ledger.js';
import { recordTenantPrice, storedPriceTable, syncShippedPrices, tenantPrices } from './tables/model-prices.js';
import { shippedPrices } from './prices/shipped.js';

const day = (text: string) => Date.parse(`${text}T00:00:00Z`);
const TENANT = 'acme';

async function shippedCount(store: Store): Promise<number> {
  const result = await store.client.query({ query: `SELECT count() AS n FROM model_prices FINAL WHERE tenant_id = ''`, format: 'JSONEachRow' });
  return Number((await result.json<{ n: string }>())[0]!.n);
}

async function spanCosts(store: Store): Promise<Map<string, { cost: number | null; source: string | undefined; version: string | undefined }>> {
  const result = await store.client.query({
    query: `SELECT event_id, cost_micros, attributes FROM spans FINAL WHERE tenant_id = {t:String}`, query_params: { t: TENANT }, format: 'JSONEachRow',
  });
  const rows = await result.json<{ event_id: string; cost_micros: string | null; attributes: Record<string, string> }>();
  return new Map(rows.map((r) => [r.event_id, { cost: r.cost_micros === null ? null : Number(r.cost_micros), source: r.attributes['fusebox.cost.source'], version: r.attributes['fusebox.price.version'] }]));
}

async function reportTotal(store: Store, fromMs: number, toMs: number) {
  const [row] = await costReport(store.client, { tenantId: TENANT, fromMs, toMs, by: [], maxGroups: 10 });
  return row!.usage;
}

describe('model_prices: the shipped list', () => {
  let store: Store;
  beforeAll(async () => { store = await freshStore(); });
  afterAll(async () => { await store?.close(); });

  it('is loaded at start, and syncing it again writes nothing', async () => {
    expect(await shippedCount(store)).toBe(shippedPrices().length);
    expect(await syncShippedPrices(store.client, shippedPrices(), Date.now())).toEqual({ written: 0 });
    expect(await shippedCount(store)).toBe(shippedPrices().length);
  });

  it('follows the file: a changed version replaces the stored one, a removed version is deleted', async () => {
    const [first, second, ...rest] = shippedPrices() as ListPrice[];
    const changed = { ...first!, inputMicrosPerMTok: first!.inputMicrosPerMTok + 1 };
    expect(await syncShippedPrices(store.client, [changed, ...rest], Date.now())).toEqual({ written: 2 });
    expect(await shippedCount(store)).toBe(shippedPrices().length - 1);
    const table = await storedPriceTable(store.client, TENANT);
    const found = table.lookup(TENANT, changed.provider, changed.model, changed.effectiveFromMs);
    expect(found.ok && found.price.inputMicrosPerMTok).toBe(changed.inputMicrosPerMTok);
    expect(await syncShippedPrices(store.client, shippedPrices(), Date.now())).toEqual({ written: 2 });
    expect(await shippedCount(store)).toBe(shippedPrices().length);
    void second;
  });
});

describe('reprice', () => {
  let store: Store;
  const FROM = day('2025-03-01');
  const TO = day('2025-03-05');
  const OVERRIDE_FROM = day('2025-03-03');
  // gpt-4o from 2024-10-01: $2.50 in, $10 out, $1.25 cached per million tokens.
  const calls = [
    span({ eventId: 'p-1', kind: 'llm_call', name: 'm', tenantId: TENANT, provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 100_000, startTimeMs: day('2025-03-01') + 5 }),
    span({ eventId: 'p-2', kind: 'llm_call', name: 'm', tenantId: TENANT, provider: 'openai', model: 'gpt-4o-2024-08-06', inputTokens: 400_000, outputTokens: 0, cachedTokens: 200_000, startTimeMs: day('2025-03-03') + 5 }),
    span({ eventId: 'p-3', kind: 'llm_call', name: 'm', tenantId: TENANT, provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 3, startTimeMs: day('2025-03-04') + 5 }),
    span({ eventId: 'a-1', kind: 'llm_call', name: 'm', tenantId: TENANT, provider: 'openai', model: 'gpt-4o', inputTokens: 1_000, outputTokens: 0, costMicros: 123_456, startTimeMs: day('2025-03-04') + 6 }),
    span({ eventId: 'u-1', kind: 'llm_call', name: 'm', tenantId: TENANT, provider: 'vllm', model: 'acme-ft', inputTokens: 2_000_000, outputTokens: 0, startTimeMs: day('2025-03-04') + 7 }),
    span({ eventId: 't-1', kind: 'tool_call', name: 'web_search', tenantId: TENANT, startTimeMs: day('2025-03-04') + 8 }),
  ];
  const override = (o: Partial<TenantPrice>): TenantPrice => ({
    tenantId: TENANT, provider: 'openai', model: 'gpt-4o', effectiveFromMs: OVERRIDE_FROM, inputMicrosPerMTok: 2_000_000, outputMicrosPerMTok: 8_000_000,
    cachedInputMicrosPerMTok: 1_000_000, note: 'contract', changedBy: 'test', changedAtMs: 1, ...o,
  });

  beforeAll(async () => {
    store = await freshStore();
    const table = createPriceTable(shippedPrices());
    await seedSpans(store, calls.map((call) => priceSpan(call, table)));
  });
  afterAll(async () => { await store?.close(); });

  it('at ingest: priced from the shipped list, the agent\'s cost kept, an unknown model unpriced and not zero', async () => {
    const costs = await spanCosts(store);
    expect(costs.get('p-1')).toEqual({ cost: 2_500_000 + 1_000_000, source: 'priced', version: 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z' });
    expect(costs.get('p-2')!.cost).toBe(500_000 + 250_000);
    expect(costs.get('p-3')!.cost).toBe(55); // 25 + 30 micro-USD
    expect(costs.get('a-1')).toEqual({ cost: 123_456, source: 'agent', version: undefined });
    expect(costs.get('u-1')).toEqual({ cost: null, source: 'unpriced', version: undefined });
    expect(await reportTotal(store, FROM, TO)).toMatchObject({ total_cost_micros: 3_500_000 + 750_000 + 55 + 123_456, unpriced_spans: 1, spans: 6 });
  });

  it('after a tenant override mid-period, reprices the spans from its time on; report totals equal the sum of spans', async () => {
    const price = override({});
    await recordTenantPrice(store.client, price, false);
    const progress: string[] = [];
    const totals = await reprice(store.client, await storedPriceTable(store.client, TENANT), { tenantId: TENANT, fromMs: FROM, toMs: TO }, (p) => progress.push(p.day));
    expect(progress).toEqual(['2025-03-01', '2025-03-02', '2025-03-03', '2025-03-04']);
    // p-2: 200k uncached at $2 + 200k cached at $1 = 400,000 + 200,000; p-3: 20 + 24 = 44
    expect(totals).toMatchObject({ read: 4, changed: 2, unpriced: 1, costBeforeMicros: 3_500_000n + 750_000n + 55n, costAfterMicros: 3_500_000n + 600_000n + 44n });
    const costs = await spanCosts(store);
    expect(costs.get('p-1')!.cost).toBe(3_500_000);
    expect(costs.get('p-2')).toEqual({ cost: 600_000, source: 'priced', version: 'tenant:openai/gpt-4o@2025-03-03T00:00:00.000Z' });
    expect(costs.get('p-3')!.cost).toBe(44);
    expect(costs.get('a-1')!.cost).toBe(123_456);
    const expected = 3_500_000 + 600_000 + 44 + 123_456;
    expect(await reportTotal(store, FROM, TO)).toMatchObject({ total_cost_micros: expected, spans: 6, unpriced_spans: 1 });
    expect([...costs.values()].reduce((sum, c) => sum + (c.cost ?? 0), 0)).toBe(expected);
  });

  it('is idempotent: run again, nothing changes', async () => {
    const totals = await reprice(store.client, await storedPriceTable(store.client, TENANT), { tenantId: TENANT, fromMs: FROM, toMs: TO });
    expect(totals.changed).toBe(0);
    expect((await reportTotal(store, FROM, TO)).total_cost_micros).toBe(3_500_000 + 600_000 + 44 + 123_456);
  });

  it('a custom endpoint added later prices the unpriced span; --model limits the work to that model', async () => {
    await recordTenantPrice(store.client, override({ provider: 'vllm', model: 'acme-ft', effectiveFromMs: 0, inputMicrosPerMTok: 100_000, outputMicrosPerMTok: 100_000, cachedInputMicrosPerMTok: 0 }), false);
    const totals = await reprice(store.client, await storedPriceTable(store.client, TENANT), { tenantId: TENANT, fromMs: FROM, toMs: TO, model: 'acme-ft' });
    expect(totals).toMatchObject({ read: 1, changed: 1, unpriced: 0 });
    expect((await spanCosts(store)).get('u-1')).toEqual({ cost: 200_000, source: 'priced', version: 'tenant:vllm/acme-ft@1970-01-01T00:00:00.000Z' });
    expect(await reportTotal(store, FROM, TO)).toMatchObject({ total_cost_micros: 3_500_000 + 600_000 + 44 + 123_456 + 200_000, unpriced_spans: 0 });
  });

  it('back and forth (override removed, then set again) ends exact each time', async () => {
    const price = override({});
    await recordTenantPrice(store.client, { ...price, changedAtMs: 2 }, true);
    expect((await tenantPrices(store.client, TENANT)).map((p) => p.provider)).toEqual(['vllm']);
    await reprice(store.client, await storedPriceTable(store.client, TENANT), { tenantId: TENANT, fromMs: FROM, toMs: TO });
    expect((await reportTotal(store, FROM, TO)).total_cost_micros).toBe(3_500_000 + 750_000 + 55 + 123_456 + 200_000);
    await recordTenantPrice(store.client, { ...price, changedAtMs: 3 }, false);
    await reprice(store.client, await storedPriceTable(store.client, TENANT), { tenantId: TENANT, fromMs: FROM, toMs: TO });
    expect((await reportTotal(store, FROM, TO)).total_cost_micros).toBe(3_500_000 + 600_000 + 44 + 123_456 + 200_000);
  });
});
