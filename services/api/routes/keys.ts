/** API keys of the caller's tenant (admin), and the tenant's access log. */
import { accessLog } from '../../../storage/tables/access-log.js';
import { findApiKey, listApiKeys, revokeApiKey } from '../../../storage/tables/api-keys.js';
import { createApiKey } from '../auth/create-key.js';
import { notFound } from '../errors.js';
import { defineRoute } from '../route.js';
import { accessLogList, accessLogQuery, apiKeyView, createKeyBody, createdKey, iso, keyList, keyParams } from '../schemas.js';
import { apiKeyViewOf } from '../views.js';

export const keyRoutes = [
  defineRoute({
    method: 'POST', url: '/v1/keys', tag: 'keys', permission: 'keys:manage', resource: 'api_key', status: 201,
    summary: 'Create an API key',
    body: createKeyBody, response: createdKey,
    async handler({ body, caller, access, deps }) {
      const created = await createApiKey(deps.store.client, { tenantId: caller.tenantId, role: body.role, name: body.name, createdBy: caller.keyId, nowMs: deps.clock() });
      access.resourceId = created.record.keyId;
      return { ...apiKeyViewOf(created.record), key: created.key };
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/keys', tag: 'keys', permission: 'keys:manage', resource: 'api_key',
    summary: 'List API keys',
    response: keyList,
    async handler({ caller, deps }) {
      return { keys: (await listApiKeys(deps.store.client, caller.tenantId)).map(apiKeyViewOf) };
    },
  }),
  defineRoute({
    method: 'DELETE', url: '/v1/keys/:keyId', tag: 'keys', permission: 'keys:manage', resource: 'api_key',
    summary: 'Revoke an API key',
    params: keyParams, response: apiKeyView,
    async handler({ params, caller, access, deps }) {
      access.resourceId = params.keyId;
      const key = await findApiKey(deps.store.client, params.keyId);
      if (key === null || key.tenantId !== caller.tenantId) {
        access.flagged = key !== null;
        throw notFound('API key', params.keyId);
      }
      return apiKeyViewOf(await revokeApiKey(deps.store.client, key, deps.clock()));
    },
  }),
  defineRoute({
    method: 'GET', url: '/v1/access-log', tag: 'keys', permission: 'audit:read', resource: 'access_log',
    summary: 'Read the access log',
    query: accessLogQuery, response: accessLogList,
    async handler({ query, caller, deps }) {
      const rows = await accessLog(deps.store.client, caller.tenantId, { flaggedOnly: query.flagged ?? false, limit: query.limit });
      return {
        entries: rows.map((row) => ({
          time: iso(row.time_ms), requestId: row.request_id, keyId: row.key_id, role: row.role, method: row.method, route: row.route,
          resourceType: row.resource_type, resourceId: row.resource_id, statusCode: row.status_code, flagged: row.flagged, flagReason: row.flag_reason,
        })),
      };
    },
  }),
];
