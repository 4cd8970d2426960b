/**
 * `GET /v1/policies`: the policies in force for the API key's tenant (never a parameter), for
 * HTTP-only agents whose client runs the local pre-checks (client/local-checks.ts) from them.
 * Agent keys (`spans:ingest`) and keys that may read policies (`policies:read`) may call it.
 *
 * Clients poll, so the cheap answer is the common one: the ETag is the version of the tenant's
 * set (policy-snapshot.ts) and `If-None-Match` with it is a 304 without a body, decided from
 * memory. A 200 hands the tenant's policies out and is written to the access log first, like
 * every read of tenant data; a 304 hands nothing out and is not (a poll every few seconds per
 * agent would otherwise be a ClickHouse insert each).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { insertAccessRecords } from '../../storage/tables/access-log.js';
import { parseInput } from '../api/route.js';
import type { GatewayDeps } from './app.js';
import { GatewayError } from './errors.js';
import type { PolicyFollower } from './policy-follower.js';
import { notModified } from './policy-snapshot.js';

export const policyRoutes: FastifyPluginAsync<{ deps: GatewayDeps; policies: PolicyFollower }> = async (app, { deps, policies }) => {
  app.get('/v1/policies', { onRequest: deps.guard('spans:ingest', 'policies:read') }, async (request, reply) => {
    parseInput(z.strictObject({}), request.query, 'query');
    if (!policies.caughtUp) throw new GatewayError('NOT_READY', 'the gateway is still reading the policies topic; retry', { retryAfterSeconds: 1 });
    const caller = deps.caller(request);
    const snapshot = policies.snapshot(caller.tenantId);
    // no-cache: a shared cache may keep the answer but must ask again before reusing it.
    reply.header('etag', snapshot.etag).header('cache-control', 'private, no-cache');
    if (notModified(request.headers['if-none-match'], snapshot.etag)) return reply.code(304).send();
    try {
      await insertAccessRecords(deps.store.client, [{
        tenantId: caller.tenantId, timeMs: deps.clock(), requestId: String(request.id), keyId: caller.keyId, role: caller.role,
        method: request.method, route: '/v1/policies', resourceType: 'policies', resourceId: snapshot.version, statusCode: 200, flagged: false, flagReason: '',
      }]);
    } catch (error) {
      throw new GatewayError('STORE_UNAVAILABLE', 'the access log could not be written; try again', { cause: error, retryAfterSeconds: 1 });
    }
    return reply.type('application/json; charset=utf-8').send(snapshot.body);
  });
};
