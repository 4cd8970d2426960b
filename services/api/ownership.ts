/**
 * Tenant isolation for ids a request names. A run, tree, agent or policy is looked up within the
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

/**
 * The one shape of every lookup: the id within the caller's tenant, else 404, flagged when
 * `elsewhere` finds it in another tenant.
 */
async function owned<T>(access: AccessNote, resource: string, id: string, find: () => Promise<T | null | false>, elsewhere: () => Promise<boolean>): Promise<T> {
  if (access.resourceId === '') access.resourceId = id; // the access log names the first id a request asked for
  const found = await find();
  if (found) return found;
  access.flagged = await elsewhere();
  throw notFound(resource, id);
}

export function ownedRun(deps: ApiDeps, caller: Caller, access: AccessNote, runId: string): Promise<RunRow> {
  const { client } = deps.store;
  return owned(access, 'run', runId, () => findRun(client, caller.tenantId, runId), () => runExistsElsewhere(client, caller.tenantId, runId));
}

export async function ownedTree(deps: ApiDeps, caller: Caller, access: AccessNote, treeId: string): Promise<void> {
  const { client } = deps.store;
  await owned(access, 'tree', treeId, () => treeExists(client, caller.tenantId, treeId), () => treeExistsElsewhere(client, caller.tenantId, treeId));
}

/**
 * Agent ids are names a tenant picks, so two tenants may both have a 'researcher'; only a
 * name this tenant has never used while another tenant has is flagged.
 */
export async function ownedAgent(deps: ApiDeps, caller: Caller, access: AccessNote, agentId: string): Promise<void> {
  const { client } = deps.store;
  await owned(access, 'agent', agentId, () => agentExists(client, caller.tenantId, agentId), () => agentExistsElsewhere(client, caller.tenantId, agentId));
}

/** A tenant's policy at its newest version; another tenant's policy id is flagged (ids are global). */
export function ownedPolicy(deps: ApiDeps, caller: Caller, access: AccessNote, policyId: string): Promise<PolicyEvent> {
  return owned(access, 'policy', policyId, () => currentPolicy(deps, caller.tenantId, policyId), () => policyExistsElsewhere(deps.store.client, caller.tenantId, policyId));
}

/** An agent of the caller's registry at its newest version; flagged like ownedAgent when only another tenant registered the name. */
export function registeredAgent(deps: ApiDeps, caller: Caller, access: AccessNote, agentId: string): Promise<AgentVersion> {
  const { client } = deps.store;
  return owned(access, 'agent', agentId, () => findAgent(client, caller.tenantId, agentId), () => agentRegisteredElsewhere(client, caller.tenantId, agentId));
}
