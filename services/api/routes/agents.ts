/**
 * The agent registry: owner, lifecycle, allowed tools (published as the agent's scope policy),
 * suspension (the agent-scope breaker), and every change kept as history.
 */
import type { z } from 'zod';
import type { PolicyEvent } from '../../../schemas/index.js';
import { agentHistory, listAgents, type AgentVersion } from '../../../storage/tables/agent-registry.js';
import { listPolicies } from '../../../storage/tables/policies.js';
import { registeredAgent } from '../ownership.js';
import { isRegistryManaged } from '../policies/policy-events.js';
import { defineRoute } from '../route.js';
import { applyAgentChange } from '../registry/apply.js';
import { agentChange, agentHistoryView, agentList, agentListQuery, agentView, changeAgentBody, lifecycleBody, registerAgentBody, suspendBody } from '../registry/schemas.js';
import { agentParams, iso } from '../schemas.js';

function agentViewOf(agent: AgentVersion, policies: readonly PolicyEvent[]): z.output<typeof agentView> {
  return {
    agentId: agent.agentId, owner: agent.owner, lifecycle: agent.lifecycle, suspended: agent.suspended, allowedTools: agent.allowedTools,
    version: agent.version, changedBy: agent.changedBy, changedAt: iso(agent.changedAtMs),
    policies: policies.filter((p) => p.selector.agentId === agent.agentId).map((p) => ({
      policyId: p.policyId, version: p.version, detector: p.detector, disposition: p.disposition, enabled: p.enabled,
      managedBy: isRegistryManaged(p.policyId) ? 'registry' as const : 'api' as const,
    })),
  };
}

function changeViewOf(agent: AgentVersion): z.output<typeof agentChange> {
  return {
    agentId: agent.agentId, owner: agent.owner, lifecycle: agent.lifecycle, suspended: agent.suspended, allowedTools: agent.allowedTools,
    version: agent.version, change: agent.change, detail: agent.detail, changedBy: agent.changedBy, changedAt: iso(agent.changedAtMs),
    controlEventId: agent.controlEventId, scopePolicyVersion: agent.scopePolicyVersion,
  };
}

const agentRoute = { tag: 'registry', resource: 'agent' } as const;

export const agentRoutes = [
  defineRoute({
    ...agentRoute, method: 'GET', url: '/v1/agents', permission: 'registry:read',
    summary: 'List registered agents',
    query: agentListQuery, response: agentList,
    async handler({ query, caller, deps }) {
      const [agents, policies] = await Promise.all([listAgents(deps.store.client, caller.tenantId, query), listPolicies(deps.store.client, caller.tenantId)]);
      return { agents: agents.map((agent) => agentViewOf(agent, policies)) };
    },
  }),
  defineRoute({
    ...agentRoute, method: 'POST', url: '/v1/agents', permission: 'registry:write', status: 201,
    summary: 'Register an agent',
    body: registerAgentBody, response: agentView,
    async handler({ body, caller, access, deps }) {
      access.resourceId = body.agentId;
      const agent = await applyAgentChange(deps, caller, body.agentId, { kind: 'register', ...body });
      return agentViewOf(agent, await listPolicies(deps.store.client, caller.tenantId, { agentId: agent.agentId }));
    },
  }),
  defineRoute({
    ...agentRoute, method: 'GET', url: '/v1/agents/:agentId', permission: 'registry:read',
    summary: 'Read an agent',
    params: agentParams, response: agentView,
    async handler({ params, caller, access, deps }) {
      const agent = await registeredAgent(deps, caller, access, params.agentId);
      return agentViewOf(agent, await listPolicies(deps.store.client, caller.tenantId, { agentId: agent.agentId }));
    },
  }),
  defineRoute({
    ...agentRoute, method: 'GET', url: '/v1/agents/:agentId/history', permission: 'registry:read',
    summary: 'Read an agent\'s history',
    params: agentParams, response: agentHistoryView,
    async handler({ params, caller, access, deps }) {
      await registeredAgent(deps, caller, access, params.agentId);
      return { agentId: params.agentId, changes: (await agentHistory(deps.store.client, caller.tenantId, params.agentId)).map(changeViewOf) };
    },
  }),
  defineRoute({
    ...agentRoute, method: 'PATCH', url: '/v1/agents/:agentId', permission: 'registry:write',
    summary: 'Change an agent',
    params: agentParams, body: changeAgentBody, response: agentChange,
    async handler({ params, body, caller, access, deps }) {
      await registeredAgent(deps, caller, access, params.agentId);
      const { reason, ...change } = body;
      return changeViewOf(await applyAgentChange(deps, caller, params.agentId, { kind: 'update', ...change }, reason));
    },
  }),
  defineRoute({
    ...agentRoute, method: 'POST', url: '/v1/agents/:agentId/lifecycle', permission: 'registry:write',
    summary: 'Move an agent\'s lifecycle',
    params: agentParams, body: lifecycleBody, response: agentChange,
    async handler({ params, body, caller, access, deps }) {
      await registeredAgent(deps, caller, access, params.agentId);
      return changeViewOf(await applyAgentChange(deps, caller, params.agentId, { kind: 'lifecycle', to: body.state }, body.reason));
    },
  }),
  ...(['suspend', 'resume'] as const).map((kind) => defineRoute({
    ...agentRoute, method: 'POST', url: `/v1/agents/:agentId/${kind}`, permission: 'registry:write',
    summary: kind === 'suspend' ? 'Suspend an agent' : 'Resume an agent',
    params: agentParams, body: suspendBody, response: agentChange,
    async handler({ params, body, caller, access, deps }) {
      await registeredAgent(deps, caller, access, params.agentId);
      return changeViewOf(await applyAgentChange(deps, caller, params.agentId, { kind }, body.reason));
    },
  })),
];
