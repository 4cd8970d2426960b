/**
 * How every API route is declared: method, path, the permission it needs, zod schemas for its
 * params, query, body and answer, and a handler. From one declaration come the validation
 * (400 naming the field), the role check (403), the tenant guard, the access-log row and the
 * route's OpenAPI entry (openapi.ts), so none of them can drift from the others.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { EventLog, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import type { Store } from '../../storage/store.js';
import { insertAccessRecords } from '../../storage/tables/access-log.js';
import { tenantExists } from '../../storage/tables/api-keys.js';
import type { PolicyBook } from '../../streams/policies.js';
import type { Logger } from '../logger.js';
import { authenticate, type Caller } from './auth/authenticate.js';
import { roleGrants, type Permission } from './auth/roles.js';
import { ApiError, notFound, toApiError } from './errors.js';
import type { KeyedLock } from './keyed-lock.js';

export interface ApiLimits {
  /** Largest page a listing returns. */
  maxPageSize: number;
  /** Most groups a cost report may have before it is refused (422) rather than truncated. */
  maxReportGroups: number;
  /** Deepest spawn chain the causal graph walks. */
  maxGraphDepth: number;
}

export interface ApiDeps {
  store: Store;
  log: EventLog;
  /** One producer shared by all requests, opened on first use. */
  producer: () => Promise<LogProducer>;
  topics: Topics;
  logger: Logger;
  /** Wall-clock time, for access-log rows, key changes and operator actions only. */
  clock: () => number;
  limits: ApiLimits;
  /** The policies in force, as the processors see them (fed from the policies topic). */
  policies: PolicyBook;
  /** Serializes changes of one agent or policy (read the version, write the next). */
  lock: KeyedLock;
}

/** What the access-log row of this request will say; handlers fill in the resource. */
export interface AccessNote {
  resourceType: string;
  resourceId: string;
  /** Set when the request named another tenant's resource (it is answered 404). */
  flagged: boolean;
}

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface RouteContext<P extends AnyObject, Q extends AnyObject, B extends AnyObject> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  caller: Caller;
  access: AccessNote;
  deps: ApiDeps;
  reply: FastifyReply;
}

const EMPTY = z.strictObject({});
type Empty = typeof EMPTY;

export interface RouteSpec<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends AnyObject = AnyObject, R extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** A fastify path, e.g. /v1/runs/:runId */
  url: string;
  summary: string;
  tag: string;
  permission: Permission;
  /** The access log's resource type for this route. */
  resource: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The JSON answer (for OpenAPI and the handler's type). */
  response: R;
  /** Success status; 200 unless said. */
  status?: number;
  /** Set when the route can also answer text/csv (the handler sets the content type). */
  csv?: boolean;
  handler(context: RouteContext<P, Q, B>): Promise<z.output<R> | string>;
}

/** Declares a route; a function only so TypeScript infers the handler's types from the schemas. */
export function defineRoute<P extends AnyObject = Empty, Q extends AnyObject = Empty, B extends AnyObject = Empty, R extends z.ZodType = z.ZodType>(spec: RouteSpec<P, Q, B, R>): RouteSpec<P, Q, B, R> {
  return spec;
}

/** Parameter names that would let a caller pick a tenant. The tenant comes from the key. */
const TENANT_PARAMETERS = ['tenant', 'tenantId', 'tenant_id'];

export function registerRoute(app: FastifyInstance, spec: RouteSpec<AnyObject, AnyObject, AnyObject, z.ZodType>, deps: ApiDeps): void {
  app.route({
    method: spec.method,
    url: spec.url,
    handler: async (request, reply) => {
      const caller = await authenticate(deps.store.client, request.headers.authorization);
      const access: AccessNote = { resourceType: spec.resource, resourceId: '', flagged: false };
      let status = spec.status ?? 200;
      let result: unknown;
      let failure: unknown;
      try {
        if (!roleGrants(caller.role, spec.permission)) {
          throw new ApiError('FORBIDDEN', `role '${caller.role}' may not ${spec.summary.toLowerCase()} (needs '${spec.permission}')`);
        }
        const query = await withoutOwnTenant(request.query, caller, access, deps);
        const body = await withoutOwnTenant(request.body, caller, access, deps);
        result = await spec.handler({
          params: parseInput(spec.params ?? EMPTY, request.params, 'params'),
          query: parseInput(spec.query ?? EMPTY, query, 'query'),
          body: parseInput(spec.body ?? EMPTY, body ?? {}, 'body'),
          caller,
          access,
          deps,
          reply,
        });
      } catch (error) {
        failure = error;
        status = toApiError(error).status;
      }
      await recordAccess(deps, request, caller, access, status);
      if (failure !== undefined) throw failure;
      reply.code(status);
      return result;
    },
  });
}

/**
 * A tenant named in the query or body: the caller's own is dropped (harmless); any other is a
 * request for another tenant's data, answered 404 as for a tenant that does not exist, and
 * flagged when that tenant does exist (as for runs and trees).
 */
async function withoutOwnTenant(input: unknown, caller: Caller, access: AccessNote, deps: ApiDeps): Promise<unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const rest: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const name of TENANT_PARAMETERS) {
    if (!(name in rest)) continue;
    const named = String(rest[name]);
    delete rest[name];
    if (named !== caller.tenantId) {
      access.resourceType = 'tenant';
      access.resourceId = named;
      access.flagged = await tenantExists(deps.store.client, named);
      throw notFound('tenant', named);
    }
  }
  return rest;
}

/** Validates one part of a request; a failure is a 400 naming the first field at fault. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'params' | 'query' | 'body'): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    // A nested object's unknown key is named where it is (body.selector.agent); the list of
    // expected names is the top level's, so it is given only there.
    const field = [where, ...issue.path.map(String), issue.keys[0]].join('.');
    const expected = issue.path.length > 0 ? '' : ` (expected one of: ${Object.keys((schema as unknown as AnyObject).shape ?? {}).join(', ') || 'none'})`;
    throw new ApiError('INVALID_REQUEST', `${field}: unknown parameter${expected}`, { field });
  }
  const field = [where, ...issue.path.map(String)].join('.');
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
  throw new ApiError('INVALID_REQUEST', `${field}: ${message}`, { field });
}

/**
 * The request's access-log row, written before the answer leaves: a read that cannot be
 * audited is not served (503, retriable).
 */
async function recordAccess(deps: ApiDeps, request: FastifyRequest, caller: Caller, access: AccessNote, statusCode: number): Promise<void> {
  try {
    await insertAccessRecords(deps.store.client, [{
      tenantId: caller.tenantId,
      timeMs: deps.clock(),
      requestId: String(request.id ?? randomUUID()),
      keyId: caller.keyId,
      role: caller.role,
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      resourceType: access.resourceType,
      resourceId: access.resourceId,
      statusCode,
      flagged: access.flagged,
      flagReason: access.flagged ? 'cross_tenant' : '',
    }]);
  } catch (error) {
    deps.logger.error('could not write the access log; refusing to answer', { error: (error as Error).message, route: request.routeOptions.url });
    throw new ApiError('STORE_UNAVAILABLE', 'the access log could not be written; try again', { cause: error });
  }
}
