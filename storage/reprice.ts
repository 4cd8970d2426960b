/**
 * Reprice: recomputes what a tenant's model calls in a period cost, by the price table in effect
 * now (the shipped list as stored, and the tenant's overrides), after a price changed or was
 * added. Only spans Fusebox priced (or could not price) are touched; an agent's own cost never.
 *
 * A span whose cost or pricing attributes change is written again, whole, into `spans`: the
 * table keeps the newest row of an event id, and the same insert feeds `cost_ledger` through
 * its view, where the newest row of the span wins too. So run details, graphs, the ledger and
 * cost reports all read the new cost, each span once, and report totals stay the sum of spans.
 * Unchanged spans are not written, so a second run changes nothing (idempotent). Each insert
 * has its own dedup token: a later reprice back to an earlier price must not be taken for a
 * replay of an old insert and dropped.
 */
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { COST_SOURCE_ATTRIBUTE, modelNames, normalizeName, pricingOf, withPricing, type PriceTable } from '../streams/pricing/index.js';

const DAY_MS = 86_400_000;

export interface RepriceRequest {
  tenantId: string;
  /** Spans that started in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** Only calls of this model (snapshot names of it included). */
  model?: string;
  pageSize?: number;
}

export interface RepriceProgress {
  day: string;
  read: number;
  changed: number;
  unpriced: number;
  costBeforeMicros: bigint;
  costAfterMicros: bigint;
}

export type RepriceTotals = Omit<RepriceProgress, 'day'> & { days: number };

/** What reprice reads of a span to price it; the rest of the row is written back as it was. */
const spanRow = z.looseObject({
  event_id: z.string(),
  tenant_id: z.string(),
  kind: z.string(),
  model: z.string().nullable(),
  provider: z.string().nullable(),
  start_ms: z.coerce.number().int(),
  input_tokens: z.coerce.number().int(),
  output_tokens: z.coerce.number().int(),
  cached_tokens: z.coerce.number().int(),
  cost_micros: z.coerce.number().int().nullable(),
  attributes: z.record(z.string(), z.string()),
});

export async function reprice(client: ClickHouseClient, table: PriceTable, request: RepriceRequest, onProgress: (progress: RepriceProgress) => void = () => {}): Promise<RepriceTotals> {
  const pageSize = request.pageSize ?? 10_000;
  const runId = randomUUID();
  const model = request.model === undefined ? '' : normalizeName(request.model);
  const totals: RepriceTotals = { days: 0, read: 0, changed: 0, unpriced: 0, costBeforeMicros: 0n, costAfterMicros: 0n };
  let inserts = 0;
  // Day by day, then by event id within a day: pages are primary-key ranges of the ledger's
  // order, and progress is reported in units a person can follow.
  for (let dayStart = Math.floor(request.fromMs / DAY_MS) * DAY_MS; dayStart < request.toMs; dayStart += DAY_MS) {
    const progress: RepriceProgress = { day: new Date(dayStart).toISOString().slice(0, 10), read: 0, changed: 0, unpriced: 0, costBeforeMicros: 0n, costAfterMicros: 0n };
    let after = '';
    for (;;) {
      const rows = await readPage(client, request, Math.max(dayStart, request.fromMs), Math.min(dayStart + DAY_MS, request.toMs), model, after, pageSize);
      if (rows.length === 0) break;
      after = rows.at(-1)!.event_id as string;
      const changed: Record<string, unknown>[] = [];
      for (const raw of rows) {
        const row = spanRow.parse(raw);
        if (model !== '' && !modelNames(row.model ?? '').includes(model)) continue;
        progress.read += 1;
        const pricing = pricingOf({ kind: row.kind as 'llm_call', tenantId: row.tenant_id, provider: row.provider, model: row.model, startTimeMs: row.start_ms, inputTokens: row.input_tokens, outputTokens: row.output_tokens, cachedTokens: row.cached_tokens }, null, table)!;
        progress.costBeforeMicros += BigInt(row.cost_micros ?? 0);
        progress.costAfterMicros += BigInt(pricing.costMicros ?? 0);
        if (pricing.costMicros === null) progress.unpriced += 1;
        const attributes = withPricing(row.attributes, pricing);
        if (pricing.costMicros === row.cost_micros && sameAttributes(attributes, row.attributes)) continue;
        const { start_ms: _start, ...stored } = raw as Record<string, unknown>;
        changed.push({ ...stored, cost_micros: pricing.costMicros, attributes });
      }
      if (changed.length > 0) {
        await client.insert({ table: 'spans', values: changed, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `reprice:${runId}:${++inserts}` } });
        progress.changed += changed.length;
      }
      if (rows.length < pageSize) break;
    }
    totals.days += 1;
    totals.read += progress.read;
    totals.changed += progress.changed;
    totals.unpriced += progress.unpriced;
    totals.costBeforeMicros += progress.costBeforeMicros;
    totals.costAfterMicros += progress.costAfterMicros;
    onProgress(progress);
  }
  return totals;
}

/**
 * A page of one day's repriceable spans: model calls Fusebox priced or could not, including
 * ones stored before pricing at ingest recorded a source (no cost, no source).
 */
async function readPage(client: ClickHouseClient, request: RepriceRequest, fromMs: number, toMs: number, model: string, after: string, limit: number): Promise<Record<string, unknown>[]> {
  const result = await client.query({
    query: `SELECT *, toUnixTimestamp64Milli(start_time) AS start_ms
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND kind = 'llm_call'
              AND start_time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
              AND (attributes['${COST_SOURCE_ATTRIBUTE}'] IN ('priced', 'unpriced') OR (cost_micros IS NULL AND NOT mapContains(attributes, '${COST_SOURCE_ATTRIBUTE}')))
              AND ({model:String} = '' OR startsWith(lower(ifNull(model, '')), {model:String}))
              AND event_id > {after:String}
            ORDER BY event_id
            LIMIT {limit:UInt32}`,
    query_params: { tenantId: request.tenantId, fromMs, toMs, model, after, limit },
    format: 'JSONEachRow',
  });
  return result.json<Record<string, unknown>>();
}

function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}
