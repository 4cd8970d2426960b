/**
 * The HTTP gateway as a fastify plugin, and `buildGateway`, which wraps it with the one error
 * handler and the observability routes. Only main.ts listens on a port; tests call
 * `app.inject()` (or listen on port 0 for the event stream).
 *
 * Per request: the API key is checked before the body is read (onRequest: 401, 403, 429), so an
 * unknown caller cannot make the gateway parse megabytes; the body limit answers 413. Key records
 * are cached for `keyTtlMs` (key-cache.ts: how revocation is honoured).
 *
 * Besides the control follower it is given, the gateway follows the policies topic itself
 * (policy-follower.ts) unless handed a started follower, and is ready once it has read it all.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import type { EventLog, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import type { Store } from '../../storage/store.js';
import { findApiKey } from '../../storage/tables/api-keys.js';
import { authenticateWith, type Caller } from '../api/auth/authenticate.js';
import { roleGrants, type Permission } from '../api/auth/roles.js';
import type { Logger } from '../logger.js';
import { observabilityPlugin, type Metrics, type ReadinessCheck } from '../observability/index.js';
import { breakerRoutes } from './breaker-routes.js';
import { DEFAULT_LIMITS, type GatewayLimits } from './config.js';
import type { ControlFollower } from './control-follower.js';
import { GatewayError, toGatewayError } from './errors.js';
import { ingestRoutes } from './ingest-routes.js';
import { createPolicyFollower, type PolicyFollower } from './policy-follower.js';
import { policyRoutes } from './policy-routes.js';
import { createKeyCache } from './key-cache.js';
import { createBacklog, createRateLimiter, type Backlog, type RateLimiter } from './limits.js';
import { createRecentIds, type RecentIds } from './recent-ids.js';
import { encodeErrorStatus, PROTOBUF } from './otlp/protobuf.js';

export interface GatewayOptions {
  store: Store;
  log: EventLog;
  topics: Topics;
  logger: Logger;
  metrics: Metrics;
  follower: ControlFollower;
  limits?: Partial<GatewayLimits>;
  /** Wall-clock time: rate limiting and access-log rows only (spans carry their own times). */
  clock?: () => number;
  /** Readiness checks besides the control follower's catch-up (Kafka, ClickHouse). */
  checks?: Record<string, ReadinessCheck>;
  /** The policies served on `GET /v1/policies`, already started; without it the gateway follows the policies topic itself. */
  policies?: PolicyFollower;
}

export interface GatewayDeps {
  store: Store;
  topics: Topics;
  logger: Logger;
  metrics: Metrics;
  follower: ControlFollower;
  limits: GatewayLimits;
  clock: () => number;
  producer: () => Promise<LogProducer>;
  backlog: Backlog;
  recent: RecentIds;
  /** The caller of a request that passed `guard`. */
  caller(request: FastifyRequest): Caller;
  /** onRequest hook: a known key (401), a role granting one of `permissions` (403), under its rate (429). */
  guard(...permissions: Permission[]): onRequestHookHandler;
}

export const gatewayPlugin: FastifyPluginAsync<GatewayOptions> = async (app, options) => {
  let policies = options.policies;
  if (!policies) {
    const own = createPolicyFollower(options.log, options.topics.policies, options.logger.child('policies'));
    app.addHook('onClose', () => own.stop());
    await own.start();
    policies = own;
  }
  const limits: GatewayLimits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
  const clock = options.clock ?? Date.now;
  const rate: RateLimiter = createRateLimiter({ perSecond: limits.ratePerSecond, burst: limits.rateBurst }, clock);
  const callers = new WeakMap<FastifyRequest, Caller>();
  const keys = createKeyCache(async (keyId) => {
    try {
      return await findApiKey(options.store.client, keyId);
    } catch (error) {
      throw new GatewayError('STORE_UNAVAILABLE', 'API keys could not be read from ClickHouse; retry', { cause: error, retryAfterSeconds: 1 });
    }
  }, { ttlMs: limits.keyTtlMs, maxEntries: limits.keyCacheSize, clock });
  let producer: Promise<LogProducer> | null = null;

  const deps: GatewayDeps = Object.freeze({
    store: options.store,
    topics: options.topics,
    logger: options.logger,
    metrics: options.metrics,
    follower: options.follower,
    limits,
    clock,
    backlog: createBacklog(limits.maxPendingSpans),
    recent: createRecentIds(100_000),
    producer: () => {
      producer ??= options.log.producer().catch((error: unknown) => {
        producer = null; // the next request tries again
        throw error;
      });
      return producer;
    },
    caller(request: FastifyRequest): Caller {
      const caller = callers.get(request);
      if (!caller) throw new GatewayError('INTERNAL', 'route without a guard');
      return caller;
    },
    guard(...permissions: Permission[]): onRequestHookHandler {
      return async (request) => {
        const caller = await authenticateWith(keys.find, request.headers.authorization);
        if (!permissions.some((p) => roleGrants(caller.role, p))) {
          throw new GatewayError('FORBIDDEN', `role '${caller.role}' may not call ${request.method} ${request.routeOptions.url} (needs ${permissions.map((p) => `'${p}'`).join(' or ')})`);
        }
        const decision = rate.take(caller.keyId);
        if (!decision.allowed) {
          throw new GatewayError('RATE_LIMITED', `API key ${caller.keyId} is over its rate of ${limits.ratePerSecond} requests per second`, { retryAfterSeconds: decision.retryAfterSeconds });
        }
        callers.set(request, caller);
      };
    },
  });

  app.addHook('onClose', async () => {
    if (producer) await (await producer.catch(() => null))?.close();
  });
  await app.register(ingestRoutes, { deps });
  await app.register(breakerRoutes, { deps });
  await app.register(policyRoutes, { deps, policies });
};

/** OTLP/HTTP answers in the request's encoding, errors included (a google.rpc.Status in protobuf). */
function wantsProtobufAnswer(request: FastifyRequest): boolean {
  return request.routeOptions.url === '/v1/traces' && (request.headers['content-type'] ?? '').startsWith(PROTOBUF);
}

/** A fastify instance serving the gateway, with its error and not-found handlers and /healthz, /readyz, /metrics. */
export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const ownPolicies = options.policies ? null : createPolicyFollower(options.log, options.topics.policies, options.logger.child('policies'));
  const policies = options.policies ?? ownPolicies!;
  const bodyLimit = options.limits?.bodyLimitBytes ?? DEFAULT_LIMITS.bodyLimitBytes;
  const app = Fastify({ logger: false, genReqId: () => randomUUID(), bodyLimit });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500 && gatewayError.code !== 'OVERLOADED') {
      options.logger.error('request failed', { route: request.routeOptions.url, code: gatewayError.code, error: error.message, cause: (gatewayError.cause as Error | undefined)?.message });
    }
    if (gatewayError.retriable) reply.header('retry-after', String(gatewayError.retryAfterSeconds));
    reply.code(gatewayError.status);
    if (wantsProtobufAnswer(request)) reply.type(PROTOBUF).send(encodeErrorStatus(`${gatewayError.code}: ${gatewayError.message}`));
    else reply.type('application/json').send(gatewayError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(new GatewayError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`).toBody());
  });
  await app.register(observabilityPlugin, {
    metrics: options.metrics,
    checks: {
      ...options.checks,
      control: async () => {
        if (!options.follower.caughtUp) throw new Error('still reading the breaker-state topic');
      },
      policies: async () => {
        if (!policies.caughtUp) throw new Error('still reading the policies topic');
      },
    },
  });
  if (ownPolicies) {
    app.addHook('onClose', () => ownPolicies.stop());
    await ownPolicies.start().catch(async (error: unknown) => {
      await app.close();
      throw error;
    });
  }
  await app.register(gatewayPlugin, { ...options, policies });
  return app;
}
