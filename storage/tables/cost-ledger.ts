/**
 * The cost_ledger table (migration 0102): one row per span, ordered (tenant, day, event id),
 * read with FINAL, so a report's totals are exactly the sum of the spans it covers even when
 * spans were delivered twice. Cost reports group it by any of the dimensions below.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { CURRENT_ROLLUP_DAYS, ROLLUP_USAGE_COLUMNS } from './cost-daily.js';
import { USAGE_AGGREGATES, usageRow, type UsageRow } from './usage.js';

/** Report dimensions and the ledger column (or expression) each groups by. */
export const COST_DIMENSIONS = {
  agent: 'agent_id',
  model: 'model',
  provider: 'provider',
  user: 'user_id',
  session: 'session_id',
  day: 'toString(day)',
  tree: 'tree_id',
} as const;
export type CostDimension = keyof typeof COST_DIMENSIONS;
export const COST_DIMENSION_NAMES = Object.keys(COST_DIMENSIONS) as CostDimension[];

export interface CostReportParams {
  tenantId: string;
  /** Spans that started in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  by: readonly CostDimension[];
  treeId?: string;
  agentId?: string;
  /** Refuse a report with more groups than this rather than truncate it silently. */
  maxGroups: number;
}

/** What the daily rollup (cost_daily, migration 0140) keeps apart; a report by others reads the ledger only. */
const ROLLUP_DIMENSIONS: ReadonlySet<CostDimension> = new Set(['agent', 'model', 'provider', 'day']);

const DAY_MS = 86_400_000;

/**
 * The whole UTC days inside [fromMs, toMs), as [first, last] dates, or null if there are none:
 * only those can be answered from daily totals.
 */
export function wholeDays(fromMs: number, toMs: number): { first: string; last: string } | null {
  const first = Math.ceil(fromMs / DAY_MS);
  const end = Math.floor(toMs / DAY_MS);
  if (end <= first) return null;
  const date = (days: number) => new Date(days * DAY_MS).toISOString().slice(0, 10);
  return { first: date(first), last: date(end - 1) };
}

/**
 * The report's SQL. Dimensions come only from COST_DIMENSIONS (never from input text), every
 * value is a bound parameter. The `day` bounds let the primary key skip whole days; the exact
 * `start_time` bounds then cut inside the first and last day.
 *
 * When the dimensions allow it, whole days whose rollup is current come from cost_daily and
 * only the rest (partial first and last days, days written since their rollup) from the ledger;
 * both sides are exact, so their sum is.
 */
export function costReportQuery(params: CostReportParams): { query: string; query_params: Record<string, unknown> } {
  // Aliased apart from the column names: an alias equal to a column (day) would shadow it in WHERE.
  const aliases = params.by.map((name) => `group_${name}`);
  const dimensions = params.by.map((name, i) => `${COST_DIMENSIONS[name]} AS ${aliases[i]}`);
  const groupBy = params.by.length > 0 ? `GROUP BY ${aliases.join(', ')}` : '';
  const orderBy = params.by.length > 0 ? `ORDER BY ${aliases.join(', ')}` : '';
  const query_params: Record<string, unknown> = { tenantId: params.tenantId, fromMs: params.fromMs, toMs: params.toMs, treeId: params.treeId ?? '', agentId: params.agentId ?? '', limit: params.maxGroups + 1 };
  const ledgerWhere = `tenant_id = {tenantId:String}
              AND day >= toDate(fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC')) AND day <= toDate(fromUnixTimestamp64Milli({toMs:Int64}, 'UTC'))
              AND start_time >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
              AND ({treeId:String} = '' OR tree_id = {treeId:String})
              AND ({agentId:String} = '' OR agent_id = {agentId:String})`;
  const days = wholeDays(params.fromMs, params.toMs);
  const fromRollup = days !== null && params.treeId === undefined && params.by.every((name) => ROLLUP_DIMENSIONS.has(name));
  if (!fromRollup) {
    return {
      query: `SELECT ${[...dimensions, USAGE_AGGREGATES].join(',\n  ')}
              FROM cost_ledger FINAL
              WHERE ${ledgerWhere}
              ${groupBy} ${orderBy}
              LIMIT {limit:UInt32}`,
      query_params,
    };
  }
  query_params.rollupFrom = days.first;
  query_params.rollupTo = days.last;
  const firstDay = Math.floor(params.fromMs / DAY_MS);
  query_params.firstDay = new Date(firstDay * DAY_MS).toISOString().slice(0, 10);
  query_params.dayCount = Math.floor(params.toMs / DAY_MS) - firstDay + 1;
  const sums = ['spans', 'steps', 'total_cost_micros', 'unpriced_spans', 'input_tokens', 'output_tokens', 'cached_tokens'].map((c) => `sum(${c}) AS ${c}`);
  return {
    // The ledger's days are named as a positive set (every day of the range but the current
    // ones), which the primary key can use to skip the rolled-up days; NOT IN could not.
    query: `WITH current_days AS (${CURRENT_ROLLUP_DAYS}),
                 ledger_days AS (SELECT toDate({firstDay:Date}) + number AS day FROM numbers({dayCount:UInt32})
                                 WHERE day NOT IN (SELECT day FROM current_days))
            SELECT ${[...aliases, ...sums].join(', ')}
            FROM (
              SELECT ${[...dimensions, ROLLUP_USAGE_COLUMNS].join(', ')}
              FROM cost_daily
              WHERE tenant_id = {tenantId:String} AND day >= {rollupFrom:Date} AND day <= {rollupTo:Date}
                AND (day, refresh) IN (SELECT day, refresh FROM current_days)
                AND ({agentId:String} = '' OR agent_id = {agentId:String})
              UNION ALL
              SELECT ${[...dimensions, USAGE_AGGREGATES].join(',\n  ')}
              FROM cost_ledger FINAL
              WHERE ${ledgerWhere}
                AND day IN (SELECT day FROM ledger_days)
              ${groupBy}
            )
            ${groupBy} ${orderBy}
            LIMIT {limit:UInt32}`,
    query_params,
  };
}

/** Usage, plus the `group_<dimension>` columns asked for (kept by `loose`). */
const reportRow = usageRow.loose();
const dimensionValue = z.string().nullable();

/** One group of a report: its dimension values (null where the spans had none) and usage. */
export interface CostReportRow {
  group: Partial<Record<CostDimension, string | null>>;
  usage: UsageRow;
}

export class ReportTooLarge extends Error {
  constructor(readonly maxGroups: number) {
    super(`the report has more than ${maxGroups} groups`);
    this.name = 'ReportTooLarge';
  }
}

/** Grouped usage; without dimensions, one row of totals (all zero when no span matched). */
export async function costReport(client: ClickHouseClient, params: CostReportParams): Promise<CostReportRow[]> {
  const result = await client.query({ ...costReportQuery(params), format: 'JSONEachRow' });
  const rows = z.array(reportRow).parse(await result.json());
  if (rows.length > params.maxGroups) throw new ReportTooLarge(params.maxGroups);
  return rows.map((row) => {
    const group: Partial<Record<CostDimension, string | null>> = {};
    for (const name of params.by) group[name] = dimensionValue.parse(row[`group_${name}`] ?? null);
    const { spans, steps, total_cost_micros, unpriced_spans, input_tokens, output_tokens, cached_tokens } = row;
    return { group, usage: { spans, steps, total_cost_micros, unpriced_spans, input_tokens, output_tokens, cached_tokens } };
  });
}
