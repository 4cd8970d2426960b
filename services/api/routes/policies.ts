/**
 * Policies: list, read, history, create, change, disable. Every change is a new PolicyEvent
 * version on the compacted policies topic (processors apply it to the next event they handle);
 * reads come from the `policies` table, which this API writes before it answers.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { PolicyEvent } from '../../../schemas/index.js';
import { listPolicies, policyHistory } from '../../../storage/tables/policies.js';
import { ApiError } from '../errors.js';
import { ownedPolicy } from '../ownership.js';
import { checkPolicyDraft, draftOf, isRegistryManaged, type PolicyDraft } from '../policies/policy-events.js';
import { publishNextVersion } from '../policies/publish.js';
import { changePolicyBody, createPolicyBody, policyHistoryView, policyList, policyListQuery, policyParams, policyView } from '../policies/schemas.js';
import { defineRoute } from '../route.js';
import { iso } from '../schemas.js';

export function policyViewOf(policy: PolicyEvent): z.output<typeof policyView> {
  return {
    policyId: policy.policyId, version: policy.version, detector: policy.detector, selector: policy.selector, params: policy.params,
    disposition: policy.disposition, enabled: policy.enabled, managedBy: isRegistryManaged(policy.policyId) ? 'registry' : 'api',
    changedBy: policy.changedBy, changedAt: iso(policy.changedAtMs),
  };
}

function refuseRegistryManaged(policy: PolicyEvent): void {
  if (isRegistryManaged(policy.policyId)) {
    throw new ApiError('CONFLICT', `policy '${policy.policyId}' holds an agent's allowed tools; change it with PATCH /v1/agents/${policy.selector.agentId ?? ''} (allowedTools)`);
  }
}

export const policyRoutes = [
  defineRoute({
    method: 'GET', url: '/v1/policies', tag: 'policies', permission: 'policies:read', resource: 'policy',
    summary: 'List policies',
    query: policyListQuery, response: policyList,
    async handler({ query, caller, deps }) {
      const policies = await listPolicies(deps.store.client, caller.tenantId, { detector: query.detector, agentId: query.agent, enabled: query.enabled });
      return { policies: policies.map(policyViewOf) };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/policies/:policyId', tag: 'policies', permission: 'policies:read', resource: 'policy',
    summary: 'Read a policy',
    params: policyParams, response: policyView,
    async handler({ params, caller, access, deps }) {
      return policyViewOf(await ownedPolicy(deps, caller, access, params.policyId));
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/policies/:policyId/history', tag: 'policies', permission: 'policies:read', resource: 'policy',
    summary: 'Read a policy\'s versions',
    params: policyParams, response: policyHistoryView,
    async handler({ params, caller, access, deps }) {
      await ownedPolicy(deps, caller, access, params.policyId);
      return { policyId: params.policyId, versions: (await policyHistory(deps.store.client, caller.tenantId, params.policyId)).map(policyViewOf) };
    },
  }),
  defineRoute({
    method: 'POST', url: '/v1/policies', tag: 'policies', permission: 'policies:write', resource: 'policy', status: 201,
    summary: 'Create a policy',
    body: createPolicyBody, response: policyView,
    async handler({ body, caller, access, deps }) {
      const draft: PolicyDraft = body;
      checkPolicyDraft(draft, 'body');
      // The id is ours, not the caller's: policy ids key one topic for all tenants.
      const policyId = `pol_${randomBytes(8).toString('hex')}`;
      access.resourceId = policyId;
      return policyViewOf(await publishNextVersion(deps, caller, policyId, () => draft));
    },
  }),
  defineRoute({
    method: 'PATCH', url: '/v1/policies/:policyId', tag: 'policies', permission: 'policies:write', resource: 'policy',
    summary: 'Change a policy',
    params: policyParams, body: changePolicyBody, response: policyView,
    async handler({ params, body, caller, access, deps }) {
      refuseRegistryManaged(await ownedPolicy(deps, caller, access, params.policyId));
      if (Object.keys(body).length === 0) throw new ApiError('INVALID_REQUEST', 'body: changes nothing (set selector, params, disposition or enabled)', { field: 'body' });
      const policy = await publishNextVersion(deps, caller, params.policyId, (current) => {
        const draft = { ...draftOf(current!), ...body };
        checkPolicyDraft(draft, 'body');
        return draft;
      });
      return policyViewOf(policy);
    },
  }),
  defineRoute({
    method: 'POST', url: '/v1/policies/:policyId/disable', tag: 'policies', permission: 'policies:write', resource: 'policy',
    summary: 'Disable a policy',
    params: policyParams, response: policyView,
    async handler({ params, caller, access, deps }) {
      const current = await ownedPolicy(deps, caller, access, params.policyId);
      refuseRegistryManaged(current);
      if (!current.enabled) return policyViewOf(current); // already off: no new version
      return policyViewOf(await publishNextVersion(deps, caller, params.policyId, (latest) => ({ ...draftOf(latest!), enabled: false })));
    },
  }),
];
