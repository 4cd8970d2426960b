/**
 * Tenant isolation for ids a request names. A run, tree or agent is looked up within the
 * caller's tenant only. When it is not there, the answer is 404 whether it exists in another
 * tenant or nowhere (same status, same body); the other-tenant case is flagged in the access
 * log. Both cases run the same lookups, so timing tells little either.
 */
import type { PolicyEvent } from '../../schemas/index.js';
import { agentRegisteredElsewhere, findAgent, type AgentVersion } from '../../storage/tables/agent-registry.js';
import { policyExistsElsewhere } from '../../storage/tables/policies.js';
import type { Caller } from './auth/authenticate.js';
import { notFound } from './errors.js';
import { currentPolicy } from './policies/publish.js';
import type { AccessNote, ApiDeps } from './route.js';
import {
  agentExists, agentExistsElsewhere, findRun, runExistsElsewhere, treeExists, treeExistsElsewhere, type RunRow,
} from '../../storage/tables/runs.js';

export async function ownedRun(deps: ApiDeps, caller: Caller, access: AccessNote, runId: string): Promise<RunRow> {
  note(access, runId);
  const run = await findRun(deps.store.client, caller.tenantId, runId);
  if (run) return run;
  access.flagged = await runExistsElsewhere(deps.store.client, caller.tenantId, runId);
  throw notFound('run', runId);
}

export async function ownedTree(deps: ApiDeps, caller: Caller, access: AccessNote, treeId: string): Promise<void> {
  note(access, treeId);
  if (await treeExists(deps.store.client, caller.tenantId, treeId)) return;
  access.flagged = await treeExistsElsewhere(deps.store.client, caller.tenantId, treeId);
  throw notFound('tree', treeId);
}

/**
 * Agent ids are names a tenant picks, so two tenants may both have a 'researcher'; only a
 * name this tenant has never used while another tenant has is flagged.
 */
export async function ownedAgent(deps: ApiDeps, caller: Caller, access: AccessNote, agentId: string): Promise<void> {
  note(access, agentId);
  if (await agentExists(deps.store.client, caller.tenantId, agentId)) return;
  access.flagged = await agentExistsElsewhere(deps.store.client, caller.tenantId, agentId);
  throw notFound('agent', agentId);
}

/** The access log names the first id a request asked for (the route names the resource type). */
function note(access: AccessNote, id: string): void {
  if (access.resourceId === '') access.resourceId = id;
}

/** A tenant's policy at its newest version; another tenant's policy id is flagged (ids are global). */
export async function ownedPolicy(deps: ApiDeps, caller: Caller, access: AccessNote, policyId: string): Promise<PolicyEvent> {
  note(access, policyId);
  const policy = await currentPolicy(deps, caller.tenantId, policyId);
  if (policy) return policy;
  access.flagged = await policyExistsElsewhere(deps.store.client, caller.tenantId, policyId);
  throw notFound('policy', policyId);
}

/** An agent of the caller's registry at its newest version; flagged like ownedAgent when only another tenant registered the name. */
export async function registeredAgent(deps: ApiDeps, caller: Caller, access: AccessNote, agentId: string): Promise<AgentVersion> {
  note(access, agentId);
  const agent = await findAgent(deps.store.client, caller.tenantId, agentId);
  if (agent) return agent;
  access.flagged = await agentRegisteredElsewhere(deps.store.client, caller.tenantId, agentId);
  throw notFound('agent', agentId);
}
