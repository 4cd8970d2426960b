/** Helpers for query API tests: an app on a fresh store, keys per tenant and role, seeding, the access log. */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createMemoryLog } from '../log/memory.js';
import type { EventLog } from '../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../log/topics.js';
import type { SpanEvent, BreakerEvent } from '../schemas/index.js';
import { buildApp, type ApiOptions } from '../services/api/app.js';
import { createApiKey } from '../services/api/auth/create-key.js';
import type { Role } from '../services/api/auth/roles.js';
import { silentLogger } from '../services/logger.js';
import type { Store } from '../storage/store.js';
import { accessLog, type AccessRow } from '../storage/tables/access-log.js';
import { insertBreakerEvents, toBreakerRow } from '../storage/tables/breaker-events.js';
import { insertSpans, toSpanRow } from '../storage/tables/spans.js';
import { freshStore } from './store.js';

let batches = 0;

/** Inserts spans as the sink would, as one batch with its own dedup token. */
export async function seedSpans(store: Store, events: SpanEvent[], token = `seed-${++batches}`): Promise<void> {
  await insertSpans(store, events.map((event, i) => toSpanRow(event, { partition: 0, offset: String(i) })), token);
}

export async function seedTrips(store: Store, trips: BreakerEvent[]): Promise<void> {
  await insertBreakerEvents(store.client, trips.map(toBreakerRow), `trips-${++batches}`);
}

/** A breaker trip of `runId` by the loop detector; override what a case is about. */
export function loopTrip(overrides: Partial<BreakerEvent> & Pick<BreakerEvent, 'eventId' | 'tenantId' | 'runId' | 'treeId'>): BreakerEvent {
  return {
    agentId: 'agent-1', scope: 'run', target: overrides.runId, action: 'trip', detector: 'loop', threshold: 3, observed: 3, windowMs: null,
    policyId: 'builtin:loop', policyVersion: 1, lastAction: 'tool_call web_search', triggerEventId: 'e-x', stepsElapsed: 6,
    runCostMicros: 6_000, treeCostMicros: 6_000, message: 'loop', timeMs: 1_700_000_000_000,
    ...overrides,
  };
}

export interface ApiHarness {
  store: Store;
  app: FastifyInstance;
  log: EventLog;
  topics: Topics;
  /** A new key of `role` for `tenant`. */
  key(tenant: string, role: Role): Promise<string>;
  call(key: string | null, request: InjectOptions): Promise<LightMyRequestResponse>;
  get(key: string | null, url: string): Promise<LightMyRequestResponse>;
  accessRows(tenant: string): Promise<AccessRow[]>;
  close(): Promise<void>;
}

/** The API on a fresh chDB store; on the in-memory event log unless a log is given. */
export async function apiHarness(options: { log?: EventLog; topics?: Topics; store?: Store } & Partial<Pick<ApiOptions, 'limits'>> = {}): Promise<ApiHarness> {
  const store = options.store ?? (await freshStore());
  const topics = options.topics ?? topicNames('api-test');
  const log = options.log ?? createMemoryLog();
  if (!options.log) await log.ensureTopics(topicSpecs(topics, 3));
  const app = await buildApp({ store, log, topics, logger: silentLogger, limits: options.limits });
  const call = (key: string | null, request: InjectOptions) =>
    app.inject({ ...request, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...request.headers } });
  return {
    store, app, log, topics, call,
    get: (key, url) => call(key, { method: 'GET', url }),
    key: async (tenant, role) => (await createApiKey(store.client, { tenantId: tenant, role, name: `${role} of ${tenant}`, createdBy: 'test', nowMs: Date.now() })).key,
    accessRows: (tenant) => accessLog(store.client, tenant, { limit: 100_000 }),
    async close() {
      await app.close();
      if (!options.log) await log.close();
      if (!options.store) await store.close();
    },
  };
}
