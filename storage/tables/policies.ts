/**
 * The policies table (migration 0120): every version of every policy, copied from the policies
 * topic for listing and history. Reads use FINAL (a version written twice counts once); a
 * policy's state is its newest version.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { existsInOtherTenant } from './other-tenants.js';
import type { PolicyEvent } from '../../schemas/index.js';

function toRow(policy: PolicyEvent) {
  return {
    tenant_id: policy.tenantId,
    policy_id: policy.policyId,
    version: policy.version,
    detector: policy.detector,
    selector_agent_id: policy.selector.agentId,
    selector_tags: policy.selector.tags,
    selector_run_id: policy.selector.runId,
    params: policy.params,
    disposition: policy.disposition,
    enabled: policy.enabled,
    changed_by: policy.changedBy,
    changed_at: policy.changedAtMs,
  };
}

export async function insertPolicyVersions(client: ClickHouseClient, policies: readonly PolicyEvent[]): Promise<void> {
  if (policies.length === 0) return;
  await client.insert({ table: 'policies', values: policies.map(toRow), format: 'JSONEachRow' });
}

const policyRow = z.object({
  tenant_id: z.string(),
  policy_id: z.string(),
  version: z.coerce.number().int().positive(),
  detector: z.string(),
  selector_agent_id: z.string().nullable(),
  selector_tags: z.array(z.string()),
  selector_run_id: z.string().nullable(),
  params: z.record(z.string(), z.string()),
  disposition: z.enum(['warn', 'block', 'redact']),
  enabled: z.union([z.boolean(), z.number()]).transform(Boolean),
  changed_by: z.string(),
  changed_ms: z.coerce.number().int().nonnegative(),
}).transform((row): PolicyEvent => ({
  policyId: row.policy_id,
  version: row.version,
  tenantId: row.tenant_id,
  selector: { agentId: row.selector_agent_id, tags: row.selector_tags, runId: row.selector_run_id },
  detector: row.detector,
  params: row.params,
  disposition: row.disposition,
  enabled: row.enabled,
  changedBy: row.changed_by,
  changedAtMs: row.changed_ms,
}));

const COLUMNS = `tenant_id, policy_id, version, detector, selector_agent_id, selector_tags, selector_run_id, params, disposition, enabled,
                 changed_by, toUnixTimestamp64Milli(changed_at) AS changed_ms`;

export interface PolicyFilter {
  detector?: string;
  /** Policies whose selector names this agent. */
  agentId?: string;
  enabled?: boolean;
}

/** A tenant's policies, each at its newest version, by id. */
export async function listPolicies(client: ClickHouseClient, tenantId: string, filter: PolicyFilter = {}): Promise<PolicyEvent[]> {
  const result = await client.query({
    query: `SELECT * FROM (
              SELECT ${COLUMNS} FROM policies FINAL
              WHERE tenant_id = {tenantId:String}
              ORDER BY policy_id, version DESC
              LIMIT 1 BY policy_id
            )
            WHERE ({detector:String} = '' OR detector = {detector:String})
              AND ({agentId:String} = '' OR selector_agent_id = {agentId:String})
              AND ({enabled:Int8} = -1 OR enabled = {enabled:Int8})
            ORDER BY policy_id`,
    query_params: { tenantId, detector: filter.detector ?? '', agentId: filter.agentId ?? '', enabled: filter.enabled === undefined ? -1 : Number(filter.enabled) },
    format: 'JSONEachRow',
  });
  return z.array(policyRow).parse(await result.json());
}

/** Every version of one of a tenant's policies, newest first; empty when the tenant has no such policy. */
export async function policyHistory(client: ClickHouseClient, tenantId: string, policyId: string): Promise<PolicyEvent[]> {
  const result = await client.query({
    query: `SELECT ${COLUMNS} FROM policies FINAL
            WHERE tenant_id = {tenantId:String} AND policy_id = {policyId:String}
            ORDER BY version DESC`,
    query_params: { tenantId, policyId },
    format: 'JSONEachRow',
  });
  return z.array(policyRow).parse(await result.json());
}

/** Whether a tenant other than `tenantId` has a policy with this id. */
export const policyExistsElsewhere = (client: ClickHouseClient, tenantId: string, policyId: string): Promise<boolean> => existsInOtherTenant(client, 'policies', policyId, tenantId);
