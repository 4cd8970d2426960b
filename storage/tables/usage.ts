/**
 * What a set of spans did and cost, as one SQL fragment shared by run details, graph nodes and
 * cost reports, so "steps", "cost" and "unpriced" mean the same everywhere. Works on any table
 * with the span columns kind, status, cost_micros and the token counts (spans, cost_ledger).
 */
import { z } from 'zod';
import { columns } from './json-rows.js';

/** Aggregates for a GROUP BY over spans read with FINAL (one row per event id). */
export const USAGE_AGGREGATES = `
  count() AS spans,
  countIf(kind NOT IN ('run_start', 'run_end')) AS steps,
  sum(ifNull(cost_micros, 0)) AS total_cost_micros,
  countIf(cost_micros IS NULL AND kind = 'llm_call') AS unpriced_spans,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cached_tokens) AS cached_tokens`;

const count = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const usageRow = z.object({
  spans: count,
  steps: count,
  /** Integer micro-USD of the priced spans; `unpriced_spans` says how many had no price.
   *  (Not aliased `cost_micros`: an alias shadows the column inside the other aggregates.) */
  total_cost_micros: count,
  unpriced_spans: count,
  input_tokens: count,
  output_tokens: count,
  cached_tokens: count,
});
export type UsageRow = z.output<typeof usageRow>;

/** usageRow's fields as the columns of a large read (./json-rows.ts); a unit test keeps the two alike. */
export const usageColumns = {
  spans: columns.count(),
  steps: columns.count(),
  total_cost_micros: columns.count(),
  unpriced_spans: columns.count(),
  input_tokens: columns.count(),
  output_tokens: columns.count(),
  cached_tokens: columns.count(),
};

export const NO_USAGE: UsageRow = Object.freeze({ spans: 0, steps: 0, total_cost_micros: 0, unpriced_spans: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0 });

/** Adds usage rows exactly; refuses to go past 2^53 rather than round (that is $9 billion). */
export function addUsage(a: UsageRow, b: UsageRow): UsageRow {
  const sum = {} as Record<keyof UsageRow, number>;
  for (const key of Object.keys(NO_USAGE) as (keyof UsageRow)[]) {
    const value = a[key] + b[key];
    if (!Number.isSafeInteger(value)) throw new RangeError(`usage ${key} exceeds 2^53`);
    sum[key] = value;
  }
  return sum;
}
