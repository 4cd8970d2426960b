/**
 * A spawn tree's live budget ledger: what it spent (exact, from its stored spans), the ceiling
 * of the tree_budget policy in force for it, and what remains. See README: where "live" comes from.
 */
import { listTrips } from '../../../storage/tables/breaker-events-reads.js';
import { treeLedger } from '../../../storage/tables/tree-ledger.js';
import { treeBudget, type TreeBudgetParams } from '../../../streams/detectors/tree-budget.js';
import { budgetBalance } from '../budget/ledger.js';
import { treeBudgetView } from '../budget/schemas.js';
import { notFound } from '../errors.js';
import { ownedTree } from '../ownership.js';
import { microsToUsd } from '../reports/csv.js';
import { defineRoute } from '../route.js';
import { iso, treeParams } from '../schemas.js';

export const budgetRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/trees/:treeId/budget', tag: 'budget', permission: 'ledgers:read', resource: 'tree',
    summary: 'Read a tree\'s budget ledger',
    params: treeParams, response: treeBudgetView,
    async handler({ params, caller, access, deps }) {
      await ownedTree(deps, caller, access, params.treeId);
      const [ledger, trips] = await Promise.all([
        treeLedger(deps.store.client, caller.tenantId, params.treeId),
        listTrips(deps.store.client, caller.tenantId, { treeId: params.treeId, detector: treeBudget.name }, { limit: 1 }),
      ]);
      if (ledger === null) throw notFound('tree', params.treeId); // known to the runs rollup, spans not yet readable
      const tags = ledger.root_tags.split(',').map((t) => t.trim()).filter(Boolean);
      // The same book and resolution as the processor's, for the tree's root run.
      const governing = deps.policies.resolve(treeBudget, { tenantId: caller.tenantId, agentId: ledger.root_agent_id, runId: ledger.root_run_id, tags });
      const ceiling = governing ? (governing.params as TreeBudgetParams) : null;
      const spent = { costMicros: ledger.total_cost_micros, tokens: ledger.input_tokens + ledger.output_tokens };
      const trip = trips.find((t) => t.scope === 'tree') ?? null;
      return {
        treeId: params.treeId, rootRunId: ledger.root_run_id, agentId: ledger.root_agent_id,
        spent: {
          costMicros: spent.costMicros, costUsd: microsToUsd(spent.costMicros), unpricedSpans: ledger.unpriced_spans, tokens: spent.tokens,
          inputTokens: ledger.input_tokens, outputTokens: ledger.output_tokens, cachedTokens: ledger.cached_tokens, spans: ledger.spans,
        },
        ceiling: governing && ceiling ? {
          maxMicros: ceiling.maxMicros, maxUsd: ceiling.maxMicros === null ? null : microsToUsd(ceiling.maxMicros), maxTokens: ceiling.maxTokens,
          policyId: governing.ref.policyId, policyVersion: governing.ref.policyVersion, disposition: governing.disposition,
        } : null,
        ...budgetBalance(spent, ceiling),
        trip: trip && { eventId: trip.event_id, time: iso(trip.time_ms), observed: trip.observed, threshold: trip.threshold, action: trip.action, policyId: trip.policy_id, policyVersion: trip.policy_version },
        asOf: iso(ledger.as_of_ms),
      };
    },
  }),
];
