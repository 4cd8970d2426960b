/**
 * The daily cost rollup (migration 0140): exact per-day totals by tenant, agent, model and
 * provider, computed from `cost_ledger FINAL`, and trusted by a report only while the day's
 * ledger write count is what it was when computed. `refreshCostDaily` recomputes days whose
 * count moved; `CURRENT_ROLLUP_DAYS` is the SQL that says which days a report may take from it.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { USAGE_AGGREGATES } from './usage.js';

/** The newest complete refresh of each day and the write count it was computed at (aliases apart from columns, which they would shadow). */
const LATEST_REFRESHES = 'SELECT day, max(refresh) AS latest, argMax(ledger_writes, refresh) AS writes FROM cost_daily_days';

/**
 * (day, refresh) of the days in [{rollupFrom:Date}, {rollupTo:Date}] whose newest complete
 * refresh was computed at the ledger write count the day has now: their rollup rows are exact.
 */
export const CURRENT_ROLLUP_DAYS = `
  SELECT done.day AS day, done.latest AS refresh
  FROM (${LATEST_REFRESHES} WHERE day >= {rollupFrom:Date} AND day <= {rollupTo:Date} GROUP BY day) AS done
  INNER JOIN (SELECT day, sum(rows) AS total FROM cost_ledger_writes
        WHERE day >= {rollupFrom:Date} AND day <= {rollupTo:Date} GROUP BY day) AS written
  ON done.day = written.day AND done.writes = written.total`;

/** The rollup's columns as a report reads them: the same names as USAGE_AGGREGATES. */
export const ROLLUP_USAGE_COLUMNS = 'spans, steps, cost_micros AS total_cost_micros, unpriced_spans, input_tokens, output_tokens, cached_tokens';

const staleDayRow = z.object({
  day: z.string(),
  writes: z.coerce.number().int().nonnegative(),
  /** The newest complete refresh of the day, 0 if none. */
  refresh: z.coerce.number().int().nonnegative(),
});

/** Days whose rollup is missing or older than their ledger rows, with their write counts now. */
async function staleDays(client: ClickHouseClient): Promise<Map<string, z.output<typeof staleDayRow>>> {
  const result = await client.query({
    query: `SELECT toString(written.day) AS day, written.total AS writes, done.latest AS refresh
            FROM (SELECT day, sum(rows) AS total FROM cost_ledger_writes GROUP BY day) AS written
            LEFT JOIN (${LATEST_REFRESHES} GROUP BY day) AS done
              ON written.day = done.day
            WHERE done.latest = 0 OR done.writes != written.total
            ORDER BY day`,
    format: 'JSONEachRow',
    clickhouse_settings: { join_use_nulls: 0 },
  });
  return new Map(z.array(staleDayRow).parse(await result.json()).map((row) => [row.day, row]));
}

async function writesOf(client: ClickHouseClient, day: string): Promise<number> {
  const result = await client.query({ query: 'SELECT sum(rows) AS writes FROM cost_ledger_writes WHERE day = {day:Date}', query_params: { day }, format: 'JSONEachRow' });
  return z.array(z.object({ writes: z.coerce.number().int().nonnegative() })).parse(await result.json())[0]?.writes ?? 0;
}

export interface RefreshOptions {
  /**
   * A day is refreshed only if its write count stayed the same for this long before (and during)
   * the computation, so a day still being written is left to the ledger, and the rows and the
   * count of one insert, which become visible a moment apart, are never split by a refresh.
   */
  quietMs: number;
  /** Refresh ids: must grow from one refresh of a day to the next (milliseconds of the wall clock). */
  now: () => number;
  /** At most this many days per call (the oldest first). */
  maxDays?: number;
}

export interface RefreshResult {
  /** Days whose rollup is now current. */
  refreshed: string[];
  /** Days that were written to while being looked at: left for the next call. */
  busy: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Recomputes the rollup of every settled day whose ledger rows changed since its last refresh. */
export async function refreshCostDaily(client: ClickHouseClient, options: RefreshOptions): Promise<RefreshResult> {
  const before = await staleDays(client);
  if (before.size === 0) return { refreshed: [], busy: [] };
  await sleep(options.quietMs);
  const after = await staleDays(client);
  const refreshed: string[] = [];
  const busy: string[] = [];
  for (const [day, seen] of before) {
    const now = after.get(day);
    if (!now) continue; // refreshed by someone else meanwhile
    if (now.writes !== seen.writes) {
      busy.push(day);
      continue;
    }
    if (refreshed.length >= (options.maxDays ?? Number.POSITIVE_INFINITY)) break;
    const refresh = Math.max(options.now(), now.refresh + 1);
    await client.command({
      query: `INSERT INTO cost_daily (tenant_id, day, refresh, agent_id, model, provider, spans, steps, cost_micros, unpriced_spans, input_tokens, output_tokens, cached_tokens)
              SELECT tenant_id, day, {refresh:UInt64}, agent_id, model, provider, ${USAGE_AGGREGATES}
              FROM cost_ledger FINAL
              WHERE day = {day:Date}
              GROUP BY tenant_id, day, agent_id, model, provider`,
      query_params: { day, refresh },
    });
    if ((await writesOf(client, day)) !== seen.writes) {
      busy.push(day); // its rows stay unnamed, so unread, and go with the next refresh's cleanup
      continue;
    }
    await client.insert({ table: 'cost_daily_days', values: [{ day, refresh, ledger_writes: seen.writes }], format: 'JSONEachRow' });
    // Keep the previous refresh: a report that read the old cost_daily_days row a moment ago
    // may still be reading its rows.
    if (now.refresh > 0) {
      await client.command({ query: 'ALTER TABLE cost_daily DELETE WHERE day = {day:Date} AND refresh < {previous:UInt64}', query_params: { day, previous: now.refresh } });
    }
    refreshed.push(day);
  }
  return { refreshed, busy };
}
