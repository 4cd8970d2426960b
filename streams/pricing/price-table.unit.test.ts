import { describe, expect, it } from 'vitest';
import { parsePriceList, PriceListError } from './price-list.js';
import { createPriceTable, overrideKey, type TenantPrice } from './price-table.js';
import { priceSpan, pricingOf } from './price-span.js';
import { span } from '../../test/spans.js';

const day = (text: string) => Date.parse(`${text}T00:00:00Z`);

const LIST = `# a note
provider,model,effective_from,input_micros_per_mtok,output_micros_per_mtok,cached_input_micros_per_mtok,source
openai,gpt-4o,2024-05-13,5000000,15000000,5000000,https://openai.com/api/pricing
openai,gpt-4o,2024-10-01,2500000,10000000,1250000,https://openai.com/api/pricing, with a comma
azure,gpt-4o,2024-06-01,2750000,11000000,1375000,note
anthropic,claude-3-5-haiku,2024-11-04,800000,4000000,80000,https://www.anthropic.com/pricing
`;

function override(overrides: Partial<TenantPrice> = {}): TenantPrice {
  return {
    tenantId: 'acme', provider: 'openai', model: 'gpt-4o', effectiveFromMs: day('2025-01-01'),
    inputMicrosPerMTok: 1_000_000, outputMicrosPerMTok: 4_000_000, cachedInputMicrosPerMTok: 500_000,
    note: 'contract', changedBy: 'k1', changedAtMs: 1, ...overrides,
  };
}

describe('parsePriceList', () => {
  it('reads rows, keeping commas in the source', () => {
    const rows = parsePriceList(LIST);
    expect(rows).toHaveLength(4);
    expect(rows[1]).toEqual({ provider: 'openai', model: 'gpt-4o', effectiveFromMs: day('2024-10-01'), inputMicrosPerMTok: 2_500_000, outputMicrosPerMTok: 10_000_000, cachedInputMicrosPerMTok: 1_250_000, source: 'https://openai.com/api/pricing, with a comma' });
  });

  const header = 'provider,model,effective_from,input_micros_per_mtok,output_micros_per_mtok,cached_input_micros_per_mtok,source';
  const bad: [string, string, string][] = [
    ['a float price', 'openai,m,2024-01-01,2.5,1,1,s', 'line 2, input_micros_per_mtok'],
    ['a negative price', 'openai,m,2024-01-01,-1,1,0,s', 'line 2, input_micros_per_mtok'],
    ['a date without a day', 'openai,m,2024-01,1,1,1,s', 'line 2, effective_from'],
    ['no source', 'openai,m,2024-01-01,1,1,1,', 'line 2, source'],
    ['an upper-case model', 'openai,GPT,2024-01-01,1,1,1,s', 'line 2, model'],
    ['cached dearer than input', 'openai,m,2024-01-01,1,1,2,s', 'line 2, cached_input_micros_per_mtok'],
    ['too few columns', 'openai,m,2024-01-01,1,1', 'line 2, row'],
    ['the same version twice', 'openai,m,2024-01-01,1,1,1,s\nopenai,m,2024-01-01,2,2,2,s', 'line 3, effective_from'],
  ];
  for (const [name, rows, where] of bad) {
    it(`refuses ${name}, naming the line and field`, () => {
      expect(() => parsePriceList(`${header}\n${rows}`)).toThrow(PriceListError);
      expect(() => parsePriceList(`${header}\n${rows}`)).toThrow(where);
    });
  }
  it('refuses a wrong header', () => expect(() => parsePriceList('model,provider\n')).toThrow('line 1, header'));
});

describe('price lookup', () => {
  const table = createPriceTable(parsePriceList(LIST));
  table.applyOverride(overrideKey(override()), override());
  table.applyOverride(overrideKey(override({ provider: 'vllm', model: 'acme-ft-7b', effectiveFromMs: 0 })), override({ provider: 'vllm', model: 'acme-ft-7b', effectiveFromMs: 0 }));

  const cases: [string, { tenant?: string; provider: string | null; model: string | null; at: string }, string][] = [
    ['the version in effect at the event time', { provider: 'openai', model: 'gpt-4o', at: '2024-08-01' }, 'shipped:openai/gpt-4o@2024-05-13T00:00:00.000Z'],
    ['the newer version from its effective day on', { provider: 'openai', model: 'gpt-4o', at: '2024-10-01' }, 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z'],
    ['a snapshot name is priced as its base model', { provider: 'openai', model: 'gpt-4o-2024-08-06', at: '2024-11-01' }, 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z'],
    ['names are matched without regard to case', { provider: 'OpenAI', model: 'GPT-4o', at: '2024-11-01' }, 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z'],
    ['another provider of the same model has its own price', { provider: 'azure', model: 'gpt-4o', at: '2024-11-01' }, 'shipped:azure/gpt-4o@2024-06-01T00:00:00.000Z'],
    ['no provider: the only provider of a model', { provider: null, model: 'claude-3-5-haiku-20241022', at: '2025-01-01' }, 'shipped:anthropic/claude-3-5-haiku@2024-11-04T00:00:00.000Z'],
    ['a tenant override from its effective time', { tenant: 'acme', provider: 'openai', model: 'gpt-4o', at: '2025-02-01' }, 'tenant:openai/gpt-4o@2025-01-01T00:00:00.000Z'],
    ['the override covers snapshot names', { tenant: 'acme', provider: 'openai', model: 'gpt-4o-2024-08-06', at: '2025-02-01' }, 'tenant:openai/gpt-4o@2025-01-01T00:00:00.000Z'],
    ['before the override, the shipped price', { tenant: 'acme', provider: 'openai', model: 'gpt-4o', at: '2024-12-31' }, 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z'],
    ['another tenant never gets acme\'s override', { tenant: 'globex', provider: 'openai', model: 'gpt-4o', at: '2025-02-01' }, 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z'],
    ['a custom endpoint of the tenant', { tenant: 'acme', provider: 'vllm', model: 'acme-ft-7b', at: '2025-02-01' }, 'tenant:vllm/acme-ft-7b@1970-01-01T00:00:00.000Z'],
  ];
  for (const [name, q, version] of cases) {
    it(name, () => {
      const found = table.lookup(q.tenant ?? 'globex', q.provider, q.model, day(q.at));
      expect(found.ok && found.price.version).toBe(version);
    });
  }

  const unpriced: [string, { tenant?: string; provider: string | null; model: string | null; at: string }, string][] = [
    ['an unknown model', { provider: 'openai', model: 'gpt-9', at: '2025-01-01' }, 'unknown_model'],
    ['a known model at an unknown provider', { provider: 'bedrock', model: 'claude-3-5-haiku', at: '2025-01-01' }, 'unknown_model'],
    ['another tenant\'s custom endpoint', { provider: 'vllm', model: 'acme-ft-7b', at: '2025-01-01' }, 'unknown_model'],
    ['no model', { provider: 'openai', model: null, at: '2025-01-01' }, 'no_model'],
    ['a time before the first version', { provider: 'openai', model: 'gpt-4o', at: '2024-01-01' }, 'no_price_at_time'],
    ['no provider, several price the model', { provider: null, model: 'gpt-4o', at: '2025-01-01' }, 'ambiguous_provider'],
  ];
  for (const [name, q, reason] of unpriced) {
    it(`unpriced: ${name}`, () => expect(table.lookup(q.tenant ?? 'globex', q.provider, q.model, day(q.at))).toEqual({ ok: false, reason }));
  }
});

describe('overrides at runtime', () => {
  it('a removal brings the shipped price back; an older change than the one held is ignored', () => {
    const table = createPriceTable(parsePriceList(LIST));
    const at = day('2025-02-01');
    const key = overrideKey(override());
    expect(table.applyOverride(key, override({ changedAtMs: 10 }))).toEqual({ ok: true });
    expect(table.applyOverride(key, override({ changedAtMs: 5, inputMicrosPerMTok: 9 }))).toEqual({ ok: true });
    const found = table.lookup('acme', 'openai', 'gpt-4o', at);
    expect(found.ok && found.price.inputMicrosPerMTok).toBe(1_000_000);
    table.applyOverride(key, null);
    const after = table.lookup('acme', 'openai', 'gpt-4o', at);
    expect(after.ok && after.price.origin).toBe('shipped');
  });

  it('refuses an override under a key that is not its own, or with bad rates, keeping the table as it was', () => {
    const table = createPriceTable([]);
    expect(table.applyOverride('["globex","openai","gpt-4o",0]', override())).toMatchObject({ ok: false });
    expect(table.applyOverride(overrideKey(override()), override({ inputMicrosPerMTok: 1.5 }))).toMatchObject({ ok: false, reason: expect.stringContaining('inputMicrosPerMTok') });
    expect(table.lookup('acme', 'openai', 'gpt-4o', day('2025-02-01'))).toEqual({ ok: false, reason: 'unknown_model' });
  });
});

describe('priceSpan', () => {
  const table = createPriceTable(parsePriceList(LIST));
  const call = (extra: Parameters<typeof span>[0] extends infer T ? Partial<T> : never) =>
    span({ kind: 'llm_call', name: 'm', provider: 'openai', model: 'gpt-4o', inputTokens: 900, outputTokens: 40, startTimeMs: day('2024-11-01'), ...extra });

  it('prices a call without a cost, saying how', () => {
    const priced = priceSpan(call({}), table);
    expect(priced.costMicros).toBe(2_650);
    expect(priced.attributes).toEqual({ 'fusebox.cost.source': 'priced', 'fusebox.price.version': 'shipped:openai/gpt-4o@2024-10-01T00:00:00.000Z' });
  });
  it('keeps the agent\'s cost, and removes pricing attributes an agent sent', () => {
    const priced = priceSpan(call({ costMicros: 7, attributes: { 'fusebox.price.version': 'forged', other: 'x' } }), table);
    expect(priced.costMicros).toBe(7);
    expect(priced.attributes).toEqual({ other: 'x', 'fusebox.cost.source': 'agent' });
  });
  it('an unknown model gets no cost (null, not 0) and a flag', () => {
    const priced = priceSpan(call({ model: 'mystery' }), table);
    expect(priced.costMicros).toBeNull();
    expect(priced.attributes).toEqual({ 'fusebox.cost.source': 'unpriced', 'fusebox.cost.unpriced': 'unknown_model' });
  });
  it('spans other than model calls are left alone', () => {
    const tool = span({ kind: 'tool_call', name: 't' });
    expect(priceSpan(tool, table)).toBe(tool);
    expect(pricingOf(tool, null, table)).toBeNull();
  });
});

describe('prices in effect', () => {
  it('lists each provider/model once, the tenant\'s override over the shipped price, as of a time', () => {
    const table = createPriceTable(parsePriceList(LIST));
    table.applyOverride(overrideKey(override()), override());
    const at = (tenant: string, text: string) => table.inEffect(tenant, day(text)).map((p) => p.version);
    expect(at('acme', '2025-02-01')).toEqual([
      'shipped:anthropic/claude-3-5-haiku@2024-11-04T00:00:00.000Z',
      'shipped:azure/gpt-4o@2024-06-01T00:00:00.000Z',
      'tenant:openai/gpt-4o@2025-01-01T00:00:00.000Z',
    ]);
    expect(at('globex', '2024-06-01')).toEqual(['shipped:azure/gpt-4o@2024-06-01T00:00:00.000Z', 'shipped:openai/gpt-4o@2024-05-13T00:00:00.000Z']);
  });
});
