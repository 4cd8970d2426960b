/** Helpers for gateway tests: a gateway on the real broker and a fresh chDB store, keys per tenant and role. */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { EventLog } from '../log/port.js';
import type { ControlEvent, OpenBreakers } from '../schemas/index.js';
import { breakerTopics, type Topics } from '../log/topics.js';
import { createApiKey } from '../services/api/auth/create-key.js';
import type { Role } from '../services/api/auth/roles.js';
import { buildGateway } from '../services/gateway/app.js';
import type { GatewayLimits } from '../services/gateway/config.js';
import { createControlFollower, type ControlFollower } from '../services/gateway/control-follower.js';
import { silentLogger } from '../services/logger.js';
import { createMetrics, storeCheck, type Metrics, type ReadinessCheck } from '../services/observability/index.js';
import type { Store } from '../storage/store.js';
import { freshKafka } from './kafka.js';
import { freshStore } from './store.js';

export interface GatewayHarness {
  app: FastifyInstance;
  log: EventLog;
  topics: Topics;
  prefix: string;
  store: Store;
  follower: ControlFollower;
  metrics: Metrics;
  key(tenant: string, role: Role): Promise<string>;
  call(key: string | null, request: InjectOptions): Promise<LightMyRequestResponse>;
  /** Requests the gateway answered on `route` with `status`, from its own /metrics. */
  answered(method: string, route: string, status: number): Promise<number>;
  close(): Promise<void>;
}

/** A gateway on fresh topics of the real broker (or the given ones) and a fresh chDB store. */
export async function gatewayHarness(options: { limits?: Partial<GatewayLimits>; clock?: () => number; kafka?: { log: EventLog; topics: Topics; prefix: string }; store?: Store; checks?: Record<string, ReadinessCheck> } = {}): Promise<GatewayHarness> {
  const { log, topics, prefix } = options.kafka ?? (await freshKafka(3));
  const store = options.store ?? (await freshStore());
  const follower = createControlFollower(log, breakerTopics(topics), silentLogger);
  await follower.start();
  const metrics = createMetrics('gateway', { processMetrics: false });
  const app = await buildGateway({ store, log, topics, logger: silentLogger, metrics, follower, limits: options.limits, clock: options.clock, checks: { store: storeCheck(store), ...options.checks } });
  return {
    app, log, topics, prefix, store, follower, metrics,
    key: async (tenant, role) => (await createApiKey(store.client, { tenantId: tenant, role, name: `${role} of ${tenant}`, createdBy: 'test', nowMs: Date.now() })).key,
    call: (key, request) => app.inject({ ...request, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...request.headers } }),
    async answered(method, route, status) {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith('fusebox_http_request_duration_seconds_count{') && l.includes(`method="${method}"`) && l.includes(`route="${route}"`) && l.includes(`status_code="${status}"`));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    },
    async close() {
      await app.close();
      await follower.stop();
      if (!options.kafka) await log.close();
      if (!options.store) await store.close();
    },
  };
}

/**
 * A gateway's control stream as an HTTP-only agent reads it: the control events, and the
 * lists of open breakers it sends at connect (`event: open-breakers`), in order of arrival.
 */
export async function followControlStream(address: string, key: string, query = '') {
  const abort = new AbortController();
  const response = await fetch(`${address}/v1/control/stream${query}`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
  const control: ControlEvent[] = [];
  const openLists: OpenBreakers[] = [];
  const done = (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const data = lines.find((line) => line.startsWith('data: '))?.slice(6);
        if (data === undefined) continue;
        if (lines.includes('event: control')) control.push(JSON.parse(data));
        else if (lines.includes('event: open-breakers')) openLists.push(JSON.parse(data));
      }
    }
  })().catch(() => {});
  return {
    response, control, openLists,
    async close() {
      abort.abort();
      await done;
    },
  };
}
