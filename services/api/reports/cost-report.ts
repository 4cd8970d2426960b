/**
 * The cost report for finance, shared by the API and the CLI: exact usage grouped by any of
 * agent, model, provider, user, session, day and tree over [from, to), as JSON or CSV. Totals
 * are the sum of the rows, which are the sum of the spans covered (cost_ledger FINAL).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { z } from 'zod';
import { costReport as queryCostReport, type CostDimension } from '../../../storage/tables/cost-ledger.js';
import { addUsage, NO_USAGE } from '../../../storage/tables/usage.js';
import { iso, type costReport } from '../schemas.js';
import { usageView } from '../views.js';
import { microsToUsd, toCsv } from './csv.js';

export type CostReport = z.output<typeof costReport>;

export interface CostReportRequest {
  tenantId: string;
  fromMs: number;
  toMs: number;
  by: CostDimension[];
  treeId?: string;
  agentId?: string;
  maxGroups: number;
}

export async function buildCostReport(client: ClickHouseClient, request: CostReportRequest): Promise<CostReport> {
  const rows = await queryCostReport(client, request);
  const totals = rows.reduce((sum, row) => addUsage(sum, row.usage), NO_USAGE);
  return {
    from: iso(request.fromMs),
    to: iso(request.toMs),
    by: request.by,
    rows: rows.map((row) => ({ group: row.group, costUsd: microsToUsd(row.usage.total_cost_micros), ...usageView(row.usage) })),
    totals: { costUsd: microsToUsd(totals.total_cost_micros), ...usageView(totals) },
  };
}

const USAGE_COLUMNS = ['spans', 'steps', 'cost_micros', 'cost_usd', 'unpriced_spans', 'input_tokens', 'output_tokens', 'cached_tokens'] as const;

/** One CSV line per group: the dimensions in the order asked, then usage. No totals line: a sum of the column is the total. */
export function costReportCsv(report: CostReport): string {
  return toCsv(
    [...report.by, ...USAGE_COLUMNS],
    report.rows.map((row) => [
      ...report.by.map((name) => row.group[name] ?? null),
      row.spans, row.steps, row.costMicros, row.costUsd, row.unpricedSpans, row.inputTokens, row.outputTokens, row.cachedTokens,
    ]),
  );
}
