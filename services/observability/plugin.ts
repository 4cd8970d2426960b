/**
 * `/healthz` (liveness: the process answers), `/readyz` (readiness: every named check passes
 * within its timeout; 503 with Retry-After and the failing checks otherwise) and `/metrics`
 * (Prometheus text), plus request latency for every route of the app it is registered on.
 *
 * ```ts
 * await app.register(observabilityPlugin, { metrics: createMetrics('api'), checks: { store: storeCheck(store) } });
 * ```
 *
 * None of the three needs an API key: probes and scrapers hold none, and the answers name no
 * tenant.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ReadinessCheck } from './checks.js';
import type { Metrics } from './metrics.js';

export interface ObservabilityOptions {
  metrics: Metrics;
  /** Named dependencies; all must pass for /readyz to answer 200. */
  checks?: Record<string, ReadinessCheck>;
  /** Longest a check may take before it counts as failed. Default 2 s. */
  checkTimeoutMs?: number;
}

export const OBSERVABILITY_ROUTES = ['/healthz', '/readyz', '/metrics'] as const;

const plugin: FastifyPluginAsync<ObservabilityOptions> = async (app, options) => {
  const { metrics } = options;
  const checks = Object.entries(options.checks ?? {});
  const timeoutMs = options.checkTimeoutMs ?? 2_000;

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: one series per route however many ids are asked for.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async () => ({ status: 'ok', service: metrics.service }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(checks.map(async ([name, check]) => [name, await outcome(check, timeoutMs)] as const));
    const failed = results.filter(([, result]) => result !== 'ok');
    if (failed.length > 0) reply.code(503).header('retry-after', '5');
    return { status: failed.length === 0 ? 'ready' : 'not_ready', service: metrics.service, checks: Object.fromEntries(results) };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    metrics.refresh();
    return metrics.registry.metrics();
  });
};

async function outcome(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return 'ok';
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    clearTimeout(timer);
  }
}

// What fastify-plugin does: the hook above must see the routes of the app it is registered on,
// not only its own (fastify encapsulates a plugin's hooks otherwise).
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

export const observabilityPlugin = plugin;
