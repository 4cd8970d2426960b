/**
 * `/healthz`, `/readyz` and `/metrics` on a port of their own, for the services that have no
 * HTTP face (processor, sink, agent and tenant stages). Port 0 picks a free one (tests, several
 * instances on one host); the address is logged either way.
 */
import Fastify from 'fastify';
import type { PartitionLag } from '../../log/port.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { kafkaCheck, type ReadinessCheck } from './checks.js';
import type { Metrics } from './metrics.js';
import { observabilityPlugin } from './plugin.js';

/** Where each headless service serves /metrics unless FUSEBOX_METRICS_PORT says otherwise. */
export const DEFAULT_METRICS_PORTS = Object.freeze({ processor: 9401, sink: 9402, 'agent-stage': 9403, 'tenant-stage': 9404 });

export interface ObservabilityServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveObservability(options: { metrics: Metrics; checks?: Record<string, ReadinessCheck>; host: string; port: number; logger: Logger }): Promise<ObservabilityServer> {
  const app = Fastify({ logger: false });
  await app.register(observabilityPlugin, { metrics: options.metrics, checks: options.checks });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://${options.host}:${address.port}` : `http://${options.host}:${options.port}`;
  options.logger.info('serving /healthz, /readyz and /metrics', { url });
  return { url, close: () => app.close() };
}

/** Keeps the consumer-lag gauge at what `lag()` reports, refreshed at every scrape. */
export function exportLag(metrics: Metrics, lag: () => PartitionLag[]): void {
  metrics.beforeScrape(() => {
    for (const p of lag()) metrics.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
  });
}

/**
 * The observability of a headless service process in one call: lag exported at each scrape,
 * readiness = the broker answers (plus `checks`), served on the configured or default port.
 */
export async function observeHeadless(service: keyof typeof DEFAULT_METRICS_PORTS, options: { metrics: Metrics; config: Config; logger: Logger; lag: () => PartitionLag[]; checks?: Record<string, ReadinessCheck> }): Promise<ObservabilityServer> {
  const { metrics, config, logger } = options;
  exportLag(metrics, options.lag);
  const kafka = kafkaCheck(config.kafkaBrokers ?? []);
  const server = await serveObservability({ metrics, checks: { kafka, ...options.checks }, host: config.metrics.host, port: config.metrics.port ?? DEFAULT_METRICS_PORTS[service], logger });
  return { url: server.url, close: async () => { await server.close(); await kafka.close(); } };
}
