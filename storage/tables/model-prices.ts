/**
 * The model_prices table (migration 0110): the shipped list, synced from the data file at every
 * start, and tenant overrides, recorded by the API. Reprice and the API's price listing build
 * their price table from here; the processor and the sink build theirs from the same file and
 * the prices topic (services/pricing.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { createPriceTable, overrideKey as overrideKeyOf, type ListPrice, type PriceTable, type TenantPrice } from '../../streams/pricing/index.js';

const SHIPPED_TENANT = '';

const priceRow = z.object({
  tenant_id: z.string(),
  provider: z.string(),
  model: z.string(),
  effective_from_ms: z.coerce.number().int(),
  input_micros_per_mtok: z.coerce.number().int().nonnegative(),
  output_micros_per_mtok: z.coerce.number().int().nonnegative(),
  cached_input_micros_per_mtok: z.coerce.number().int().nonnegative(),
  source: z.string(),
  changed_by: z.string(),
  changed_at_ms: z.coerce.number().int(),
});
type PriceRow = z.output<typeof priceRow>;

const rowKey = (row: Pick<PriceRow, 'provider' | 'model' | 'effective_from_ms'>) => `${row.provider}/${row.model}@${row.effective_from_ms}`;

async function readRows(client: ClickHouseClient, tenantIds: string[]): Promise<PriceRow[]> {
  const result = await client.query({
    query: `SELECT tenant_id, provider, model, toUnixTimestamp64Milli(effective_from) AS effective_from_ms,
                   input_micros_per_mtok, output_micros_per_mtok, cached_input_micros_per_mtok, source, changed_by,
                   toUnixTimestamp64Milli(changed_at) AS changed_at_ms
            FROM model_prices FINAL
            WHERE tenant_id IN {tenantIds:Array(String)}
            ORDER BY tenant_id, provider, model, effective_from`,
    query_params: { tenantIds },
    format: 'JSONEachRow',
  });
  return z.array(priceRow).parse(await result.json());
}

function insertRows(client: ClickHouseClient, rows: object[]): Promise<unknown> {
  return client.insert({ table: 'model_prices', values: rows, format: 'JSONEachRow' });
}

const listRow = (price: ListPrice, changedAtMs: number, deleted: 0 | 1) => ({
  tenant_id: SHIPPED_TENANT, provider: price.provider, model: price.model, effective_from: price.effectiveFromMs,
  input_micros_per_mtok: price.inputMicrosPerMTok, output_micros_per_mtok: price.outputMicrosPerMTok, cached_input_micros_per_mtok: price.cachedInputMicrosPerMTok,
  source: price.source, changed_by: 'shipped', changed_at: changedAtMs, deleted,
});

/**
 * Makes the stored shipped list equal the file's: inserts new and changed versions, marks
 * versions the file no longer has as deleted, and writes nothing when they already agree, so
 * every start may call it. `nowMs` only orders the changes (the newest wins).
 */
export async function syncShippedPrices(client: ClickHouseClient, list: readonly ListPrice[], nowMs: number): Promise<{ written: number }> {
  const stored = new Map((await readRows(client, [SHIPPED_TENANT])).map((row) => [rowKey(row), row]));
  const changes: object[] = [];
  const inFile = new Set<string>();
  for (const price of list) {
    const key = rowKey({ provider: price.provider, model: price.model, effective_from_ms: price.effectiveFromMs });
    inFile.add(key);
    const row = stored.get(key);
    const same = row && row.input_micros_per_mtok === price.inputMicrosPerMTok && row.output_micros_per_mtok === price.outputMicrosPerMTok
      && row.cached_input_micros_per_mtok === price.cachedInputMicrosPerMTok && row.source === price.source;
    if (!same) changes.push(listRow(price, Math.max(nowMs, (row?.changed_at_ms ?? 0) + 1), 0));
  }
  for (const [key, row] of stored) {
    if (inFile.has(key)) continue;
    changes.push(listRow(toListPrice(row), Math.max(nowMs, row.changed_at_ms + 1), 1));
  }
  if (changes.length > 0) await insertRows(client, changes);
  return { written: changes.length };
}

/** Records an override version (or its removal) as published on the prices topic. */
export async function recordTenantPrice(client: ClickHouseClient, price: TenantPrice, removed: boolean): Promise<void> {
  await insertRows(client, [{
    tenant_id: price.tenantId, provider: price.provider, model: price.model, effective_from: price.effectiveFromMs,
    input_micros_per_mtok: price.inputMicrosPerMTok, output_micros_per_mtok: price.outputMicrosPerMTok, cached_input_micros_per_mtok: price.cachedInputMicrosPerMTok,
    source: price.note, changed_by: price.changedBy, changed_at: price.changedAtMs, deleted: removed ? 1 : 0,
  }]);
}

function toListPrice(row: PriceRow): ListPrice {
  return {
    provider: row.provider, model: row.model, effectiveFromMs: row.effective_from_ms, source: row.source,
    inputMicrosPerMTok: row.input_micros_per_mtok, outputMicrosPerMTok: row.output_micros_per_mtok, cachedInputMicrosPerMTok: row.cached_input_micros_per_mtok,
  };
}

function toTenantPrice(row: PriceRow): TenantPrice {
  return {
    tenantId: row.tenant_id, provider: row.provider, model: row.model, effectiveFromMs: row.effective_from_ms, note: row.source,
    inputMicrosPerMTok: row.input_micros_per_mtok, outputMicrosPerMTok: row.output_micros_per_mtok, cachedInputMicrosPerMTok: row.cached_input_micros_per_mtok,
    changedBy: row.changed_by, changedAtMs: row.changed_at_ms,
  };
}

/** The stored overrides of one tenant. */
export async function tenantPrices(client: ClickHouseClient, tenantId: string): Promise<TenantPrice[]> {
  return (await readRows(client, [tenantId])).map(toTenantPrice);
}

/** The price table a tenant is priced by now, from the store: the shipped list and its overrides. */
export async function storedPriceTable(client: ClickHouseClient, tenantId: string): Promise<PriceTable> {
  const rows = await readRows(client, [SHIPPED_TENANT, tenantId]);
  const table = createPriceTable(rows.filter((row) => row.tenant_id === SHIPPED_TENANT).map(toListPrice));
  for (const row of rows) {
    if (row.tenant_id === SHIPPED_TENANT) continue;
    const price = toTenantPrice(row);
    table.applyOverride(overrideKeyOf(price), price);
  }
  return table;
}

/** One override version of a tenant, or null. */
export async function findTenantPrice(client: ClickHouseClient, tenantId: string, provider: string, model: string, effectiveFromMs: number): Promise<TenantPrice | null> {
  const found = (await tenantPrices(client, tenantId)).find((p) => p.provider === provider && p.model === model && p.effectiveFromMs === effectiveFromMs);
  return found ?? null;
}

/** Whether another tenant has an override of this exact version (a cross-tenant probe is flagged). */
export async function tenantPriceExistsElsewhere(client: ClickHouseClient, tenantId: string, provider: string, model: string, effectiveFromMs: number): Promise<boolean> {
  const result = await client.query({
    query: `SELECT count() AS n FROM model_prices FINAL
            WHERE tenant_id NOT IN ('', {tenantId:String}) AND provider = {provider:String} AND model = {model:String}
              AND effective_from = fromUnixTimestamp64Milli({at:Int64}, 'UTC')`,
    query_params: { tenantId, provider, model, at: effectiveFromMs },
    format: 'JSONEachRow',
  });
  return Number((await result.json<{ n: string }>())[0]!.n) > 0;
}
