/**
 * Breakers for agents that only speak HTTP: the current state of a run or tree, and a
 * Server-Sent Events stream of control events. Agent keys (`spans:ingest`, the agent reading
 * its own breakers) and SRE/admin keys (`breakers:read`) may call them. Every request is
 * written to the access log, like the query API's reads.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ControlEvent, OpenBreakers } from '../../schemas/index.js';
import { insertAccessRecords } from '../../storage/tables/access-log.js';
import { findRun, runExistsElsewhere, treeExists, treeExistsElsewhere } from '../../storage/tables/runs.js';
import type { Caller } from '../api/auth/authenticate.js';
import { parseInput } from '../api/route.js';
import type { GatewayDeps } from './app.js';
import { GatewayError } from './errors.js';

const id = z.string().min(1).max(256);
const trees = z.union([id, z.array(id).max(1000)]).optional().transform((t) => (t === undefined ? [] : Array.isArray(t) ? t : [t]));

interface Access { resourceType: string; resourceId: string; flagged: boolean }

export const breakerRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const guard = deps.guard('spans:ingest', 'breakers:read');
  const open = new Set<FastifyReply>();

  app.get('/v1/runs/:runId/breaker', { onRequest: guard }, async (request) => {
    const { runId } = parseInput(z.object({ runId: id }), request.params, 'params');
    const query = parseInput(z.strictObject({ tree: id.optional(), agent: id.optional() }), request.query, 'query');
    return audited(request, { resourceType: 'run', resourceId: runId, flagged: false }, async (access) => {
      const caller = deps.caller(request);
      await owned(caller, 'run', runId, access);
      return deps.follower.state(caller.tenantId, { runId, treeId: query.tree, agentId: query.agent });
    });
  });

  app.get('/v1/trees/:treeId/breaker', { onRequest: guard }, async (request) => {
    const { treeId } = parseInput(z.object({ treeId: id }), request.params, 'params');
    parseInput(z.strictObject({}), request.query, 'query');
    return audited(request, { resourceType: 'tree', resourceId: treeId, flagged: false }, async (access) => {
      const caller = deps.caller(request);
      await owned(caller, 'tree', treeId, access);
      return deps.follower.state(caller.tenantId, { treeId });
    });
  });

  /**
   * The stream filters by the caller's tenant first, so naming a tree never shows another
   * tenant's events; trees need not exist yet (an agent subscribes before its first span). A
   * tree that is another tenant's is still flagged in the access log.
   */
  app.get('/v1/control/stream', { onRequest: guard }, async (request, reply) => {
    const query = parseInput(z.strictObject({ tree: trees }), request.query, 'query');
    const caller = deps.caller(request);
    const access: Access = { resourceType: 'control_stream', resourceId: query.tree.join(','), flagged: false };
    for (const tree of query.tree) {
      if ((await whose(caller, 'tree', tree)) === 'other') access.flagged = true;
    }
    await record(request, caller, access, 200);
    stream(request, reply, caller, query.tree.length === 0 ? null : new Set(query.tree));
  });

  app.addHook('preClose', async () => {
    for (const reply of open) reply.raw.end();
  });

  function stream(request: FastifyRequest, reply: FastifyReply, caller: Caller, treeFilter: Set<string> | null): void {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    reply.raw.write(': connected\n\n');
    open.add(reply);
    const send = (event: ControlEvent) => {
      reply.raw.write(`event: control\nid: ${event.eventId}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const subscriber = { tenantId: caller.tenantId, trees: treeFilter, send };
    const unsubscribe = deps.follower.subscribe(subscriber);
    // What is open now, in the same tick as the subscription (nothing can come between), then
    // the list of it: a client that reconnects learns of the resets it missed.
    const openNow = deps.follower.openFor(subscriber);
    for (const event of openNow) send(event);
    const list: OpenBreakers = { eventIds: openNow.map((event) => event.eventId) };
    reply.raw.write(`event: open-breakers\ndata: ${JSON.stringify(list)}\n\n`);
    const heartbeat = setInterval(() => reply.raw.write(': heartbeat\n\n'), deps.limits.heartbeatMs);
    request.raw.once('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(reply);
    });
  }

  /** 404 unless the caller's tenant has it; flagged when another tenant does. */
  async function owned(caller: Caller, kind: 'run' | 'tree', targetId: string, access: Access): Promise<void> {
    const owner = await whose(caller, kind, targetId);
    if (owner === 'mine') return;
    access.flagged = owner === 'other';
    throw new GatewayError('NOT_FOUND', `${kind} '${targetId}' not found`);
  }

  /** Seen on the control topic or by this gateway, else ClickHouse's runs (which lag the sink). */
  async function whose(caller: Caller, kind: 'run' | 'tree', targetId: string): Promise<'mine' | 'other' | 'none'> {
    const seen = deps.follower.ownerOf(targetId) ?? deps.recent.ownerOf(targetId);
    if (seen === caller.tenantId) return 'mine';
    const client = deps.store.client;
    const stored = kind === 'run' ? (await findRun(client, caller.tenantId, targetId)) !== null : await treeExists(client, caller.tenantId, targetId);
    if (stored) return 'mine';
    if (seen !== undefined) return 'other';
    const elsewhere = kind === 'run' ? await runExistsElsewhere(client, caller.tenantId, targetId) : await treeExistsElsewhere(client, caller.tenantId, targetId);
    return elsewhere ? 'other' : 'none';
  }

  async function audited<T>(request: FastifyRequest, access: Access, handler: (access: Access) => Promise<T>): Promise<T> {
    try {
      const result = await handler(access);
      await record(request, deps.caller(request), access, 200);
      return result;
    } catch (error) {
      await record(request, deps.caller(request), access, error instanceof GatewayError ? error.status : 500);
      throw error;
    }
  }

  /** Written before the answer leaves: a read that cannot be audited is not served. */
  async function record(request: FastifyRequest, caller: Caller, access: Access, statusCode: number): Promise<void> {
    try {
      await insertAccessRecords(deps.store.client, [{
        tenantId: caller.tenantId, timeMs: deps.clock(), requestId: String(request.id), keyId: caller.keyId, role: caller.role,
        method: request.method, route: request.routeOptions.url ?? request.url, resourceType: access.resourceType, resourceId: access.resourceId,
        statusCode, flagged: access.flagged, flagReason: access.flagged ? 'cross_tenant' : '',
      }]);
    } catch (error) {
      throw new GatewayError('STORE_UNAVAILABLE', 'the access log could not be written; try again', { cause: error, retryAfterSeconds: 1 });
    }
  }
};
