/** Creating a key, for the API (admins) and the CLI (the bootstrap admin key). */
import type { ClickHouseClient } from '@clickhouse/client';
import { insertApiKey, type ApiKeyRecord } from '../../../storage/tables/api-keys.js';
import { generateKey } from './keys.js';
import type { Role } from './roles.js';

export async function createApiKey(client: ClickHouseClient, request: { tenantId: string; role: Role; name: string; createdBy: string; nowMs: number }): Promise<{ record: ApiKeyRecord; key: string }> {
  const { keyId, key, keySha256 } = generateKey();
  const record: ApiKeyRecord = {
    keyId, tenantId: request.tenantId, role: request.role, name: request.name, keySha256,
    createdAtMs: request.nowMs, createdBy: request.createdBy, revokedAtMs: null,
  };
  await insertApiKey(client, record);
  return { record, key };
}
