/** Who is calling: the API key's tenant and role, looked up by the key's public id. */
import type { ClickHouseClient } from '@clickhouse/client';
import { findApiKey, type ApiKeyRecord } from '../../../storage/tables/api-keys.js';
import { ApiError } from '../errors.js';
import { bearerKey, keyIdOf, keyMatches } from './keys.js';
import { isRole, type Role } from './roles.js';

export interface Caller {
  tenantId: string;
  keyId: string;
  role: Role;
}

/** The caller behind an Authorization header, or UNAUTHENTICATED (401). The tenant comes from the key alone. */
export async function authenticate(client: ClickHouseClient, authorization: string | undefined): Promise<Caller> {
  return authenticateWith((keyId) => findApiKey(client, keyId), authorization);
}

/**
 * The same, with the key's record read by `findKey` (the gateway's reads go through a cache).
 * The secret is checked against the record's hash on every call, cached or not.
 */
export async function authenticateWith(findKey: (keyId: string) => Promise<ApiKeyRecord | null>, authorization: string | undefined): Promise<Caller> {
  const key = bearerKey(authorization);
  if (key === undefined) throw new ApiError('UNAUTHENTICATED', 'missing API key: send the header "Authorization: Bearer fbx_..."');
  const keyId = keyIdOf(key);
  const record = keyId === null ? null : await findKey(keyId);
  // Malformed, unknown and wrong-secret keys get the same answer: nothing to learn by probing.
  if (record === null || !keyMatches(key, record.keySha256)) throw new ApiError('UNAUTHENTICATED', 'unknown API key');
  if (record.revokedAtMs !== null) throw new ApiError('UNAUTHENTICATED', `API key ${record.keyId} was revoked`);
  if (!isRole(record.role)) throw new ApiError('FORBIDDEN', `API key ${record.keyId} has role '${record.role}', which this API does not know`);
  return { tenantId: record.tenantId, keyId: record.keyId, role: record.role };
}
