/** Health, readiness and Prometheus metrics for every Fusebox service; see metrics.ts for usage. */
export { createMetrics, METRIC_NAMES, type Metrics } from './metrics.js';
export { observabilityPlugin, OBSERVABILITY_ROUTES, type ObservabilityOptions } from './plugin.js';
export { kafkaCheck, storeCheck, type ReadinessCheck } from './checks.js';
export { DEFAULT_METRICS_PORTS, exportLag, observeHeadless, serveObservability, type ObservabilityServer } from './serve.js';
export { batchTally, type BatchTally } from './batch-tally.js';
