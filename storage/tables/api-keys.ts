/**
 * The api_keys table (migration 0103): hashed API keys, their tenant and role. Revoking writes
 * a newer version of the row; reads use FINAL, so the newest version is the key's state.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  role: string;
  name: string;
  keySha256: string;
  createdAtMs: number;
  createdBy: string;
  revokedAtMs: number | null;
}

function toRow(key: ApiKeyRecord, versionMs: number) {
  return {
    key_id: key.keyId,
    tenant_id: key.tenantId,
    role: key.role,
    name: key.name,
    key_sha256: key.keySha256,
    created_at: key.createdAtMs,
    created_by: key.createdBy,
    revoked_at: key.revokedAtMs,
    version: versionMs,
  };
}

export async function insertApiKey(client: ClickHouseClient, key: ApiKeyRecord): Promise<void> {
  await client.insert({ table: 'api_keys', values: [toRow(key, key.createdAtMs)], format: 'JSONEachRow' });
}

const ms = z.coerce.number().int().nonnegative();
const keyRow = z.object({
  key_id: z.string(),
  tenant_id: z.string(),
  role: z.string(),
  name: z.string(),
  key_sha256: z.string(),
  created_ms: ms,
  created_by: z.string(),
  revoked_ms: ms.nullable(),
}).transform((row): ApiKeyRecord => ({
  keyId: row.key_id, tenantId: row.tenant_id, role: row.role, name: row.name, keySha256: row.key_sha256,
  createdAtMs: row.created_ms, createdBy: row.created_by, revokedAtMs: row.revoked_ms,
}));

const SELECT_KEYS = `SELECT key_id, tenant_id, role, name, key_sha256, toUnixTimestamp64Milli(created_at) AS created_ms, created_by,
                            toUnixTimestamp64Milli(revoked_at) AS revoked_ms
                     FROM api_keys FINAL`;

/** The key with this public id, revoked or not; null when there is none. */
export async function findApiKey(client: ClickHouseClient, keyId: string): Promise<ApiKeyRecord | null> {
  const result = await client.query({ query: `${SELECT_KEYS} WHERE key_id = {keyId:String}`, query_params: { keyId }, format: 'JSONEachRow' });
  return z.array(keyRow).parse(await result.json())[0] ?? null;
}

export async function listApiKeys(client: ClickHouseClient, tenantId: string): Promise<ApiKeyRecord[]> {
  const result = await client.query({ query: `${SELECT_KEYS} WHERE tenant_id = {tenantId:String} ORDER BY created_at, key_id`, query_params: { tenantId }, format: 'JSONEachRow' });
  return z.array(keyRow).parse(await result.json());
}

/** Marks a key revoked from `atMs` on; revoking twice keeps the first time. */
export async function revokeApiKey(client: ClickHouseClient, key: ApiKeyRecord, atMs: number): Promise<ApiKeyRecord> {
  if (key.revokedAtMs !== null) return key;
  const revoked = { ...key, revokedAtMs: atMs };
  // The version must exceed the creation row's even if the clock says otherwise.
  await client.insert({ table: 'api_keys', values: [toRow(revoked, Math.max(atMs, key.createdAtMs + 1))], format: 'JSONEachRow' });
  return revoked;
}

/** Whether a tenant is known: it has an API key or a run. */
export async function tenantExists(client: ClickHouseClient, tenantId: string): Promise<boolean> {
  const result = await client.query({
    query: `SELECT 1 FROM api_keys WHERE tenant_id = {tenantId:String} LIMIT 1
            UNION ALL
            SELECT 1 FROM runs WHERE tenant_id = {tenantId:String} LIMIT 1`,
    query_params: { tenantId },
    format: 'JSONEachRow',
  });
  return (await result.json()).length > 0;
}
