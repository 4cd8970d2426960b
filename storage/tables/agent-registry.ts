/**
 * The agent_registry table (migration 0121): one row per change of an agent, each holding the
 * agent's whole state after the change. Append-only: an agent's state is its newest version,
 * its history all of them. Reads use FINAL (a retried insert of a version counts once).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { existsInOtherTenant } from './other-tenants.js';

export const LIFECYCLE_STATES = ['development', 'staging', 'production', 'retired'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const REGISTRY_CHANGES = ['registered', 'updated', 'lifecycle', 'suspended', 'resumed'] as const;
export type RegistryChange = (typeof REGISTRY_CHANGES)[number];

/** An agent as the registry holds it. `allowedTools: null` means any tool. */
export interface AgentState {
  agentId: string;
  owner: string;
  lifecycle: LifecycleState;
  suspended: boolean;
  allowedTools: string[] | null;
}

/** One version of an agent: its state after a change, and the change. */
export interface AgentVersion extends AgentState {
  tenantId: string;
  version: number;
  change: RegistryChange;
  detail: string;
  changedBy: string;
  changedAtMs: number;
  controlEventId: string | null;
  scopePolicyVersion: number | null;
}

export async function insertAgentVersion(client: ClickHouseClient, agent: AgentVersion): Promise<void> {
  await client.insert({
    table: 'agent_registry',
    values: [{
      tenant_id: agent.tenantId, agent_id: agent.agentId, version: agent.version, owner: agent.owner, lifecycle: agent.lifecycle,
      suspended: agent.suspended, tools_restricted: agent.allowedTools !== null, allowed_tools: agent.allowedTools ?? [],
      change: agent.change, detail: agent.detail, changed_by: agent.changedBy, changed_at: agent.changedAtMs,
      control_event_id: agent.controlEventId, scope_policy_version: agent.scopePolicyVersion,
    }],
    format: 'JSONEachRow',
  });
}

const flag = z.union([z.boolean(), z.number()]).transform(Boolean);
const agentRow = z.object({
  tenant_id: z.string(),
  agent_id: z.string(),
  version: z.coerce.number().int().positive(),
  owner: z.string(),
  lifecycle: z.enum(LIFECYCLE_STATES),
  suspended: flag,
  tools_restricted: flag,
  allowed_tools: z.array(z.string()),
  change: z.enum(REGISTRY_CHANGES),
  detail: z.string(),
  changed_by: z.string(),
  changed_ms: z.coerce.number().int().nonnegative(),
  control_event_id: z.string().nullable(),
  scope_policy_version: z.coerce.number().int().nullable(),
}).transform((row): AgentVersion => ({
  tenantId: row.tenant_id, agentId: row.agent_id, version: row.version, owner: row.owner, lifecycle: row.lifecycle,
  suspended: row.suspended, allowedTools: row.tools_restricted ? row.allowed_tools : null, change: row.change, detail: row.detail,
  changedBy: row.changed_by, changedAtMs: row.changed_ms, controlEventId: row.control_event_id, scopePolicyVersion: row.scope_policy_version,
}));

const COLUMNS = `tenant_id, agent_id, version, owner, lifecycle, suspended, tools_restricted, allowed_tools, change, detail, changed_by,
                 toUnixTimestamp64Milli(changed_at) AS changed_ms, control_event_id, scope_policy_version`;

/** A tenant's registered agents at their newest version, by id; optionally one lifecycle state. */
export async function listAgents(client: ClickHouseClient, tenantId: string, filter: { lifecycle?: LifecycleState } = {}): Promise<AgentVersion[]> {
  const result = await client.query({
    query: `SELECT * FROM (
              SELECT ${COLUMNS} FROM agent_registry FINAL
              WHERE tenant_id = {tenantId:String}
              ORDER BY agent_id, version DESC
              LIMIT 1 BY agent_id
            )
            WHERE {lifecycle:String} = '' OR lifecycle = {lifecycle:String}
            ORDER BY agent_id`,
    query_params: { tenantId, lifecycle: filter.lifecycle ?? '' },
    format: 'JSONEachRow',
  });
  return z.array(agentRow).parse(await result.json());
}

/** Every version of one of a tenant's agents, newest first; empty when it is not registered. */
export async function agentHistory(client: ClickHouseClient, tenantId: string, agentId: string, limit = 1_000_000): Promise<AgentVersion[]> {
  const result = await client.query({
    query: `SELECT ${COLUMNS} FROM agent_registry FINAL
            WHERE tenant_id = {tenantId:String} AND agent_id = {agentId:String}
            ORDER BY version DESC
            LIMIT {limit:UInt32}`,
    query_params: { tenantId, agentId, limit },
    format: 'JSONEachRow',
  });
  return z.array(agentRow).parse(await result.json());
}

export async function findAgent(client: ClickHouseClient, tenantId: string, agentId: string): Promise<AgentVersion | null> {
  return (await agentHistory(client, tenantId, agentId, 1))[0] ?? null;
}

/** Whether a tenant other than `tenantId` registered an agent of this name. */
export const agentRegisteredElsewhere = (client: ClickHouseClient, tenantId: string, agentId: string): Promise<boolean> => existsInOtherTenant(client, 'agent_registry', agentId, tenantId);
