/** The access_log table (migration 0104): one row per authenticated API request on tenant data. */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

export interface AccessRecord {
  tenantId: string;
  timeMs: number;
  requestId: string;
  keyId: string;
  role: string;
  method: string;
  route: string;
  resourceType: string;
  resourceId: string;
  statusCode: number;
  /** A request for another tenant's resource (answered 404). */
  flagged: boolean;
  flagReason: '' | 'cross_tenant';
}

export async function insertAccessRecords(client: ClickHouseClient, records: AccessRecord[]): Promise<void> {
  if (records.length === 0) return;
  await client.insert({
    table: 'access_log',
    values: records.map((r) => ({
      tenant_id: r.tenantId, time: r.timeMs, request_id: r.requestId, key_id: r.keyId, role: r.role, method: r.method, route: r.route,
      resource_type: r.resourceType, resource_id: r.resourceId, status_code: r.statusCode, flagged: r.flagged, flag_reason: r.flagReason,
    })),
    format: 'JSONEachRow',
  });
}

const accessRow = z.object({
  time_ms: z.coerce.number().int(),
  request_id: z.string(),
  key_id: z.string(),
  role: z.string(),
  method: z.string(),
  route: z.string(),
  resource_type: z.string(),
  resource_id: z.string(),
  status_code: z.coerce.number().int(),
  flagged: z.boolean(),
  flag_reason: z.string(),
});
export type AccessRow = z.output<typeof accessRow>;

/** A tenant's access log, newest first; optionally only flagged rows. */
export async function accessLog(client: ClickHouseClient, tenantId: string, filter: { flaggedOnly?: boolean; limit?: number } = {}): Promise<AccessRow[]> {
  const result = await client.query({
    query: `SELECT toUnixTimestamp64Milli(time) AS time_ms, request_id, key_id, role, method, route, resource_type, resource_id, status_code, flagged, flag_reason
            FROM access_log
            WHERE tenant_id = {tenantId:String} AND ({flaggedOnly:Bool} = false OR flagged)
            ORDER BY time DESC, request_id
            LIMIT {limit:UInt32}`,
    query_params: { tenantId, flaggedOnly: filter.flaggedOnly ?? false, limit: filter.limit ?? 1000 },
    format: 'JSONEachRow',
  });
  return z.array(accessRow).parse(await result.json());
}
