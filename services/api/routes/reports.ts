/** Cost reports for finance, as JSON or CSV. */
import { ReportTooLarge } from '../../../storage/tables/cost-ledger.js';
import { ApiError } from '../errors.js';
import { ownedTree } from '../ownership.js';
import { buildCostReport, costReportCsv } from '../reports/cost-report.js';
import { defineRoute } from '../route.js';
import { costReport, costReportQuery } from '../schemas.js';

export const reportRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/reports/cost', tag: 'reports', permission: 'reports:read', resource: 'cost_report', csv: true,
    summary: 'Read a cost report',
    query: costReportQuery, response: costReport,
    async handler({ query, caller, access, deps, reply }) {
      // The access log names the tree of a tree's report, else the period.
      if (query.tree !== undefined) await ownedTree(deps, caller, access, query.tree);
      else access.resourceId = `${new Date(query.from).toISOString()}..${new Date(query.to).toISOString()}`;
      let report;
      try {
        report = await buildCostReport(deps.store.client, {
          tenantId: caller.tenantId, fromMs: query.from, toMs: query.to, by: query.by ?? [], treeId: query.tree, agentId: query.agent,
          maxGroups: deps.limits.maxReportGroups,
        });
      } catch (error) {
        if (!(error instanceof ReportTooLarge)) throw error;
        throw new ApiError('REPORT_TOO_LARGE', `${error.message}; narrow the time range or group by fewer dimensions`, { field: 'query.by', cause: error });
      }
      if (query.format === 'json') return report;
      reply.type('text/csv; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="cost-${caller.tenantId}-${report.from.slice(0, 10)}-${report.to.slice(0, 10)}.csv"`);
      return costReportCsv(report);
    },
  }),
];
