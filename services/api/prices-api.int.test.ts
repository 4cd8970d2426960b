/** Price routes on chDB: prices in effect, setting and removing an override (published and recorded), validation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceOverrideCodec } from '../../schemas/index.js';
import { apiHarness, type ApiHarness } from '../../test/api.js';
import { readAll } from '../../test/kafka.js';

describe('price routes', () => {
  let api: ApiHarness;
  let admin: string;
  let finance: string;
  beforeAll(async () => {
    api = await apiHarness();
    admin = await api.key('acme', 'admin');
    finance = await api.key('acme', 'finance');
  });
  afterAll(async () => { await api?.close(); });

  const body = { provider: 'openai', model: 'gpt-4o', effectiveFrom: '2026-01-01', inputMicrosPerMTok: 1_000_000, outputMicrosPerMTok: 4_000_000, cachedInputMicrosPerMTok: 100_000, note: 'contract 2026' };
  const gpt4o = async (key: string, at: string) => (await api.get(key, `/v1/prices?at=${at}`)).json().prices.find((p: { provider: string; model: string }) => p.provider === 'openai' && p.model === 'gpt-4o');

  it('lists the shipped prices in effect at a time', async () => {
    expect(await gpt4o(finance, '2024-09-01')).toMatchObject({ origin: 'shipped', inputMicrosPerMTok: 5_000_000, version: 'shipped:openai/gpt-4o@2024-05-13T00:00:00.000Z' });
    expect(await gpt4o(finance, '2025-01-01')).toMatchObject({ origin: 'shipped', inputMicrosPerMTok: 2_500_000 });
  });

  it('an admin sets an override: published on the prices topic, then in effect from its time for this tenant only', async () => {
    const set = await api.call(admin, { method: 'POST', url: '/v1/prices/overrides', payload: body });
    expect(set.statusCode).toBe(201);
    expect(set.json()).toMatchObject({ provider: 'openai', model: 'gpt-4o', effectiveFrom: '2026-01-01T00:00:00.000Z', inputMicrosPerMTok: 1_000_000, note: 'contract 2026' });
    const messages = await readAll(api.log, api.topics.prices);
    expect(messages.map((m) => m.key)).toEqual([JSON.stringify(['acme', 'openai', 'gpt-4o', Date.parse('2026-01-01T00:00:00Z')])]);
    expect(priceOverrideCodec.decode(messages[0]!.value!)).toMatchObject({ tenantId: 'acme', inputMicrosPerMTok: 1_000_000 });
    expect(await gpt4o(finance, '2026-02-01')).toMatchObject({ origin: 'tenant', inputMicrosPerMTok: 1_000_000, source: 'contract 2026' });
    expect(await gpt4o(finance, '2025-12-31')).toMatchObject({ origin: 'shipped' });
    expect(await gpt4o(await api.key('globex', 'finance'), '2026-02-01')).toMatchObject({ origin: 'shipped' });
    expect((await api.get(finance, '/v1/prices/overrides')).json().overrides).toHaveLength(1);
  });

  it('refuses a bad override with a 400 naming the field', async () => {
    const dear = await api.call(admin, { method: 'POST', url: '/v1/prices/overrides', payload: { ...body, cachedInputMicrosPerMTok: 2_000_000 } });
    expect(dear.statusCode).toBe(400);
    expect(dear.json().error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body.cachedInputMicrosPerMTok' });
    const float = await api.call(admin, { method: 'POST', url: '/v1/prices/overrides', payload: { ...body, inputMicrosPerMTok: 2.5 } });
    expect(float.json().error.field).toBe('body.inputMicrosPerMTok');
    const upper = await api.call(admin, { method: 'POST', url: '/v1/prices/overrides', payload: { ...body, model: 'GPT-4o' } });
    expect(upper.json().error.field).toBe('body.model');
  });

  it('finance may read but not set prices', async () => {
    expect((await api.call(finance, { method: 'POST', url: '/v1/prices/overrides', payload: body })).statusCode).toBe(403);
  });

  it('removing the override publishes a tombstone and the shipped price is back', async () => {
    const removed = await api.call(admin, { method: 'DELETE', url: '/v1/prices/overrides/openai/gpt-4o/2026-01-01' });
    expect(removed.statusCode).toBe(200);
    const messages = await readAll(api.log, api.topics.prices);
    expect(messages.at(-1)!.value).toBeNull();
    expect(await gpt4o(finance, '2026-02-01')).toMatchObject({ origin: 'shipped' });
    expect((await api.call(admin, { method: 'DELETE', url: '/v1/prices/overrides/openai/gpt-4o/2026-01-01' })).statusCode).toBe(404);
  });
});
