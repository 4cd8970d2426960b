/** Breakers: the trips with their reasons, the breakers open now, and operator halt and reset. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { listTrips } from '../../../storage/tables/breaker-events-reads.js';
import { openBreakers } from '../../../storage/tables/control-actions.js';
import { publishOperatorCommand } from '../control/publish.js';
import type { ControlTarget, OperatorAction } from '../control/control-events.js';
import { ownedAgent, ownedRun, ownedTree } from '../ownership.js';
import { decodeCursor, page } from '../pagination.js';
import { defineRoute, type RouteContext } from '../route.js';
import { agentParams, controlBody, controlResult, openBreakerList, runParams, treeParams, tripList, tripListQuery } from '../schemas.js';
import { openBreakerView, tripView } from '../views.js';

const tripCursor = z.object({ timeMs: z.number().int(), eventId: z.string() });

export const breakerRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/breakers/trips', tag: 'breakers', permission: 'breakers:read', resource: 'breaker_events',
    summary: 'List breaker trips',
    query: tripListQuery, response: tripList,
    async handler({ query, caller, access, deps }) {
      // A run or tree named as a filter is a resource like any other: another tenant's is a 404.
      if (query.run !== undefined) await ownedRun(deps, caller, access, query.run);
      if (query.tree !== undefined) await ownedTree(deps, caller, access, query.tree);
      const rows = await listTrips(deps.store.client, caller.tenantId,
        { fromMs: query.from, toMs: query.to, detector: query.detector, agentId: query.agent, runId: query.run, treeId: query.tree },
        { limit: query.limit, after: decodeCursor(query.cursor, tripCursor) });
      const { items, nextCursor } = page(rows, query.limit, (trip) => ({ timeMs: trip.time_ms, eventId: trip.event_id }));
      return { trips: items.map(tripView), nextCursor };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/breakers/open', tag: 'breakers', permission: 'breakers:read', resource: 'breakers',
    summary: 'List open breakers',
    response: openBreakerList,
    async handler({ caller, deps }) {
      return { breakers: (await openBreakers(deps.store.client, caller.tenantId)).map(openBreakerView) };
    },
  }),
  ...(['halt', 'reset'] as const).flatMap((action) => [
    defineRoute({
      method: 'POST', url: `/v1/runs/:runId/${action}`, tag: 'breakers', permission: 'breakers:control', resource: 'run', status: 202,
      summary: `${capitalized(action)} a run`,
      params: runParams, body: controlBody, response: controlResult,
      async handler(context) {
        const run = await ownedRun(context.deps, context.caller, context.access, context.params.runId);
        return issue(context, action, { scope: 'run', runId: run.run_id, treeId: run.tree_id });
      },
    }),
    defineRoute({
      method: 'POST', url: `/v1/trees/:treeId/${action}`, tag: 'breakers', permission: 'breakers:control', resource: 'tree', status: 202,
      summary: `${capitalized(action)} a tree`,
      params: treeParams, body: controlBody, response: controlResult,
      async handler(context) {
        await ownedTree(context.deps, context.caller, context.access, context.params.treeId);
        return issue(context, action, { scope: 'tree', treeId: context.params.treeId });
      },
    }),
    defineRoute({
      method: 'POST', url: `/v1/agents/:agentId/${action}`, tag: 'breakers', permission: 'breakers:control', resource: 'agent', status: 202,
      summary: `${capitalized(action)} an agent`,
      params: agentParams, body: controlBody, response: controlResult,
      async handler(context) {
        await ownedAgent(context.deps, context.caller, context.access, context.params.agentId);
        return issue(context, action, { scope: 'agent', agentId: context.params.agentId });
      },
    }),
  ]),
];

async function issue(context: RouteContext<z.ZodObject, z.ZodObject, typeof controlBody>, action: OperatorAction, target: ControlTarget) {
  const { caller, deps, body } = context;
  const published = await publishOperatorCommand(deps, {
    eventId: randomUUID(),
    tenantId: caller.tenantId,
    target,
    action,
    message: `${action === 'halt' ? 'halted' : 'reset'} by operator (key ${caller.keyId})${body.reason ? `: ${body.reason}` : ''}`,
    timeMs: deps.clock(),
  }, caller.keyId);
  const event = published.event;
  return { controlEventId: event.eventId, scope: target.scope, target: event.target, treeId: event.treeId, action: event.action as 'kill' | 'reset', messages: published.messages };
}

function capitalized(word: string): string {
  return word[0]!.toUpperCase() + word.slice(1);
}
