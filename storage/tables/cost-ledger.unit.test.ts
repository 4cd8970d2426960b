import { describe, expect, it } from 'vitest';
import { COST_DIMENSION_NAMES, costReportQuery, type CostReportParams } from './cost-ledger.js';

const base: CostReportParams = { tenantId: 'acme', fromMs: 1_000, toMs: 2_000, by: [], maxGroups: 10 };

describe('cost report query', () => {
  it('reads the ledger with FINAL, so a redelivered span counts once', () => {
    expect(costReportQuery(base).query).toMatch(/FROM cost_ledger FINAL/);
  });

  it('without dimensions, totals only: no GROUP BY', () => {
    expect(costReportQuery(base).query).not.toMatch(/GROUP BY/);
  });

  it('groups and orders by the dimensions asked, in that order, under aliases apart from column names', () => {
    const { query } = costReportQuery({ ...base, by: ['day', 'agent', 'model'] });
    expect(query).toMatch(/toString\(day\) AS group_day,\s+agent_id AS group_agent,\s+model AS group_model/);
    expect(query).toMatch(/GROUP BY group_day, group_agent, group_model ORDER BY group_day, group_agent, group_model/);
  });

  it('maps every dimension to a column', () => {
    for (const name of COST_DIMENSION_NAMES) expect(costReportQuery({ ...base, by: [name] }).query).toContain(`AS group_${name}`);
  });

  it('binds every value as a parameter, never as SQL text', () => {
    const hostile = "x' OR 1=1 --";
    const { query, query_params } = costReportQuery({ ...base, tenantId: hostile, treeId: hostile, agentId: hostile });
    expect(query).not.toContain(hostile);
    expect(query_params).toEqual({ tenantId: hostile, fromMs: 1_000, toMs: 2_000, treeId: hostile, agentId: hostile, limit: 11 });
  });

  it('prunes by day, then cuts exactly at the times asked', () => {
    const { query } = costReportQuery(base);
    expect(query).toMatch(/day >= toDate\(fromUnixTimestamp64Milli\(\{fromMs:Int64\}/);
    expect(query).toMatch(/start_time >= fromUnixTimestamp64Milli\(\{fromMs:Int64\}, 'UTC'\) AND start_time < fromUnixTimestamp64Milli\(\{toMs:Int64\}/);
  });
});
