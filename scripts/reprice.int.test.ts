/** `fusebox reprice` against real chDB: progress per day, exact report totals, idempotent, usage errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSpans } from '../test/api.js';
import { span } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import type { Store } from '../storage/store.js';
import { shippedPrices } from '../storage/prices/shipped.js';
import { costReport } from '../storage/tables/cost-ledger.js';
import { recordTenantPrice } from '../storage/tables/model-prices.js';
import { createPriceTable, priceSpan } from '../streams/pricing/index.js';
import { runCli, type CliIo } from './fusebox.js';

const day = (text: string) => Date.parse(`${text}T00:00:00Z`);

describe('fusebox reprice', () => {
  let store: Store;
  beforeAll(async () => {
    store = await freshStore();
    const table = createPriceTable(shippedPrices());
    // gpt-4.1 at $2 in / $8 out per million: 2,000,000 + 800,000 micro-USD a call.
    await seedSpans(store, [1, 2, 3].map((i) => priceSpan(span({
      eventId: `c-${i}`, kind: 'llm_call', name: 'm', tenantId: 'acme', runId: 'r', treeId: 'r', provider: 'openai', model: 'gpt-4.1-2025-04-14',
      inputTokens: 1_000_000, outputTokens: 100_000, startTimeMs: day(`2026-01-0${i}`) + 10,
    }), table)));
    await seedSpans(store, [priceSpan(span({ eventId: 'g-1', kind: 'llm_call', name: 'm', tenantId: 'globex', runId: 'g', treeId: 'g', provider: 'openai', model: 'gpt-4.1', inputTokens: 1_000_000, outputTokens: 0, startTimeMs: day('2026-01-02') }), table)]);
  });
  afterAll(async () => { await store?.close(); });

  async function cli(args: string[]) {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env: {}, now: () => 0 };
    return { code: await runCli(args, store, io), out: () => out, err: () => err };
  }
  const total = async (tenantId: string) => (await costReport(store.client, { tenantId, fromMs: day('2026-01-01'), toMs: day('2026-02-01'), by: [], maxGroups: 1 }))[0]!.usage.total_cost_micros;

  it('recomputes the tenant\'s priced spans by an override from mid-period, printing progress, and the report follows exactly', async () => {
    expect(await total('acme')).toBe(3 * 2_800_000);
    await recordTenantPrice(store.client, { tenantId: 'acme', provider: 'openai', model: 'gpt-4.1', effectiveFromMs: day('2026-01-02'), inputMicrosPerMTok: 1_000_000, outputMicrosPerMTok: 4_000_000, cachedInputMicrosPerMTok: 0, note: '', changedBy: 'test', changedAtMs: 1 }, false);
    const run = await cli(['reprice', '--tenant', 'acme', '--from', '2026-01-01', '--to', '2026-02-01']);
    expect(run.code).toBe(0);
    expect(run.err()).toContain('2026-01-02: 1 spans, 1 changed, 0 unpriced, $2.800000 -> $1.400000');
    expect(JSON.parse(run.out())).toMatchObject({ tenant: 'acme', days: 31, spans: 3, changed: 2, costBeforeMicros: '8400000', costAfterMicros: String(2_800_000 + 2 * 1_400_000) });
    expect(await total('acme')).toBe(2_800_000 + 2 * 1_400_000);
    expect(await total('globex')).toBe(2_000_000);
    const again = await cli(['reprice', '--tenant', 'acme', '--from', '2026-01-01', '--to', '2026-02-01', '--model', 'gpt-4.1']);
    expect(JSON.parse(again.out())).toMatchObject({ spans: 3, changed: 0 });
  });

  it('refuses a bad period with a usage error naming the flag', async () => {
    const run = await cli(['reprice', '--tenant', 'acme', '--from', '2026-02-01', '--to', '2026-01-01']);
    expect(run.code).toBe(2);
    expect(run.err()).toContain('--to must be after --from');
    const noTenant = await cli(['reprice', '--from', '2026-01-01', '--to', '2026-02-01']);
    expect(noTenant.err()).toContain('--tenant is required');
  });
});
