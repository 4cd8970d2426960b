/**
 * Prometheus metrics every Fusebox service exposes, under one set of names so one dashboard
 * reads them all. Usage (the whole API):
 *
 * ```ts
 * const metrics = createMetrics('sink');                       // a registry of its own, label service="sink"
 * metrics.eventsIn.inc({ kind: 'span' }, batch.length);        // read from a topic or accepted over HTTP
 * metrics.eventsOut.inc({ topic: topics.control });            // written to a topic
 * metrics.deadLetters.inc({ code: 'KEY_MISMATCH' });
 * metrics.trips.inc({ detector: 'loop' });
 * metrics.consumerLag.set({ topic, partition: '0' }, lag);     // high watermark minus position
 * metrics.beforeScrape(() => { ... });                        // or set gauges just before each scrape
 * await app.register(observabilityPlugin, { metrics, checks: { kafka: kafkaCheck(brokers), store: storeCheck(store) } });
 * ```
 *
 * A service without HTTP can still serve `/metrics`, `/healthz`, `/readyz` with a bare fastify
 * and this plugin. Each registry is per service (not prom-client's global one), so several
 * services in one process (`npm start`, tests) never collide on a metric name.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The standard names; documented in the README's observability table. */
export const METRIC_NAMES = Object.freeze({
  eventsIn: 'fusebox_events_in_total',
  eventsOut: 'fusebox_events_out_total',
  deadLetters: 'fusebox_dead_letters_total',
  requestDuration: 'fusebox_http_request_duration_seconds',
  consumerLag: 'fusebox_consumer_lag',
  trips: 'fusebox_trips_total',
});

export interface Metrics {
  readonly service: string;
  readonly registry: Registry;
  /** Events a service took in; `kind` e.g. span, control, otlp_span. */
  readonly eventsIn: Counter<'kind'>;
  /** Events a service wrote, by topic (or table, for the sink). */
  readonly eventsOut: Counter<'topic'>;
  /** Dead letters written, by code (a SchemaError code, INVALID_SPAN, KEY_MISMATCH...). */
  readonly deadLetters: Counter<'code'>;
  /** HTTP latency by method, route pattern (never the raw URL: ids would explode the series) and status. */
  readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** Messages behind the end of a partition, per consumed topic and partition. */
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  /** Breaker trips published, by detector. */
  readonly trips: Counter<'detector'>;
  /** Runs `update` before every scrape: for values read off a source rather than counted (lag). */
  beforeScrape(update: () => void): void;
  /** What the /metrics route calls first. */
  refresh(): void;
}

export function createMetrics(service: string, options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const updates: Array<() => void> = [];
  return Object.freeze({
    beforeScrape: (update: () => void) => { updates.push(update); },
    refresh: () => { for (const update of updates) update(); },
    service,
    registry,
    eventsIn: new Counter({ name: METRIC_NAMES.eventsIn, help: 'Events taken in, by kind', labelNames: ['kind'] as const, registers }),
    eventsOut: new Counter({ name: METRIC_NAMES.eventsOut, help: 'Events written, by topic', labelNames: ['topic'] as const, registers }),
    deadLetters: new Counter({ name: METRIC_NAMES.deadLetters, help: 'Dead letters written, by code', labelNames: ['code'] as const, registers }),
    requestDuration: new Histogram({
      name: METRIC_NAMES.requestDuration, help: 'HTTP request latency in seconds', labelNames: ['method', 'route', 'status_code'] as const, registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    consumerLag: new Gauge({ name: METRIC_NAMES.consumerLag, help: 'Messages behind the partition end', labelNames: ['topic', 'partition'] as const, registers }),
    trips: new Counter({ name: METRIC_NAMES.trips, help: 'Breaker trips published, by detector', labelNames: ['detector'] as const, registers }),
  });
}
