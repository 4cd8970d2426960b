/**
 * The query API as a fastify plugin, and `buildApp`, which wraps it with the one error handler.
 * Only server.ts listens on a port; tests call `app.inject()`.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { EventLog, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import type { Store } from '../../storage/store.js';
import type { Logger } from '../logger.js';
import { createMetrics, observabilityPlugin, type Metrics, type ReadinessCheck } from '../observability/index.js';
import { ApiError, toApiError } from './errors.js';
import { createKeyedLock } from './keyed-lock.js';
import { openApiDocument } from './openapi.js';
import { startPolicyMirror } from './policies/mirror.js';
import { registerRoute, type ApiDeps, type ApiLimits, type RouteSpec } from './route.js';
import { agentRoutes } from './routes/agents.js';
import { breakerRoutes } from './routes/breakers.js';
import { budgetRoutes } from './routes/budget.js';
import { keyRoutes } from './routes/keys.js';
import { policyRoutes } from './routes/policies.js';
import { priceRoutes } from './routes/prices.js';
import { reportRoutes } from './routes/reports.js';
import { runRoutes } from './routes/runs.js';

/** Every route of the API, in the order the OpenAPI document lists them. */
export const apiRoutes = [...runRoutes, ...breakerRoutes, ...budgetRoutes, ...reportRoutes, ...agentRoutes, ...policyRoutes, ...priceRoutes, ...keyRoutes] as unknown as readonly RouteSpec[];

export const DEFAULT_LIMITS: ApiLimits = Object.freeze({ maxPageSize: 1000, maxReportGroups: 100_000, maxGraphDepth: 10_000 });

export interface ApiOptions {
  store: Store;
  log: EventLog;
  topics: Topics;
  logger: Logger;
  clock?: () => number;
  limits?: Partial<ApiLimits>;
  /** /metrics registry; a fresh one per app unless given. */
  metrics?: Metrics;
  /** /readyz checks (ClickHouse, Kafka); none: ready once it answers. */
  checks?: Record<string, ReadinessCheck>;
}

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app, options) => {
  let producer: Promise<LogProducer> | null = null;
  const policyMirror = await startPolicyMirror({ log: options.log, topic: options.topics.policies, store: options.store, logger: options.logger });
  const deps: ApiDeps = Object.freeze({
    policies: policyMirror.book,
    lock: createKeyedLock(),
    store: options.store,
    log: options.log,
    topics: options.topics,
    logger: options.logger,
    clock: options.clock ?? Date.now,
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...options.limits }),
    producer: () => {
      producer ??= options.log.producer().catch((error: unknown) => {
        producer = null; // the next request tries again
        throw error;
      });
      return producer;
    },
  });
  app.addHook('onClose', async () => {
    await policyMirror.stop();
    if (producer) await (await producer.catch(() => null))?.close();
  });

  const document = openApiDocument(apiRoutes, { title: 'Fusebox query API', version: '1' });
  app.get('/openapi.json', async () => document);
  for (const route of apiRoutes) registerRoute(app, route, deps);
};

/** A fastify instance serving the API, with its error and not-found handlers. */
export async function buildApp(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, genReqId: () => randomUUID(), bodyLimit: 64 * 1024 });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) options.logger.error('request failed', { route: request.routeOptions.url, code: apiError.code, error: error.message, cause: (apiError.cause as Error | undefined)?.message });
    if (apiError.retriable) reply.header('retry-after', '1');
    reply.code(apiError.status).type('application/json').send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see /openapi.json`);
    reply.code(404).send(error.toBody());
  });
  await app.register(observabilityPlugin, { metrics: options.metrics ?? createMetrics('api', { processMetrics: false }), checks: options.checks });
  await app.register(apiPlugin, options);
  return app;
}
