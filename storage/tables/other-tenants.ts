/**
 * The lookup behind the cross-tenant flag: whether an id the caller does not own belongs to
 * another tenant. Table and column come from a closed list, never from a request.
 */
import type { ClickHouseClient } from '@clickhouse/client';

const ID_COLUMNS = { policies: 'policy_id', agent_registry: 'agent_id' } as const;

export async function existsInOtherTenant(client: ClickHouseClient, table: keyof typeof ID_COLUMNS, id: string, tenantId: string): Promise<boolean> {
  const result = await client.query({
    query: `SELECT 1 FROM ${table} WHERE ${ID_COLUMNS[table]} = {id:String} AND tenant_id != {tenantId:String} LIMIT 1`,
    query_params: { id, tenantId },
    format: 'JSONEachRow',
  });
  return (await result.json()).length > 0;
}
