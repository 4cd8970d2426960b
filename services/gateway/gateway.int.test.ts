/**
 * The gateway on the real broker and chDB: mixed batches (valid produced keyed like the client,
 * invalid dead-lettered with index and field), every error status, breaker state with tenant
 * isolation, the SSE control stream, and health, readiness and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { partitionForKey } from '../../log/partitioner.js';
import type { Topics } from '../../log/topics.js';
import { standingMessage, standingTombstones } from '../control-messages.js';
import { controlEventCodec, policyEventCodec, policyEventSchema, spanEventCodec, type ControlEvent, type PolicyEvent } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { accessLog } from '../../storage/tables/access-log.js';
import { findApiKey, revokeApiKey } from '../../storage/tables/api-keys.js';
import { keyIdOf } from '../api/auth/keys.js';
import { kafkaCheck } from '../observability/index.js';
import { silentLogger } from '../logger.js';
import { createControlFollower } from './control-follower.js';
import { decodeErrorStatus, PROTOBUF } from './otlp/protobuf.js';
import { followControlStream, gatewayHarness, type GatewayHarness } from '../../test/gateway.js';
import { eventually, freshKafka, readAll } from '../../test/kafka.js';
import { span } from '../../test/spans.js';
import { freshStore } from '../../test/store.js';
import { deadLetterSchema } from '../dead-letter.js';

let kafka: { log: EventLog; topics: Topics; prefix: string };
let store: Store;
let gw: GatewayHarness;
let agentKey: string;

/** A span as an agent would POST it: JSON, no tenant. */
function wire(overrides: Parameters<typeof span>[0]): Record<string, unknown> {
  const { tenantId: _tenant, ...rest } = span(overrides);
  return rest;
}

function control(overrides: Partial<ControlEvent> & Pick<ControlEvent, 'eventId' | 'tenantId' | 'scope' | 'target'>): ControlEvent {
  return { treeId: null, action: 'trip', reason: { detector: 'loop', threshold: 3, observed: 3, windowMs: null, message: 'loop' }, policyId: 'builtin:loop', policyVersion: 1, timeMs: 1_700_000_000_000, ...overrides };
}

async function publish(events: ControlEvent[]): Promise<void> {
  const producer = await kafka.log.producer();
  await producer.send(kafka.topics.control, events.map((e) => ({ key: e.treeId ?? `${e.scope}:${e.target}`, value: controlEventCodec.encode(e) })));
  await producer.close();
}

beforeAll(async () => {
  kafka = await freshKafka(3);
  store = await freshStore();
  gw = await gatewayHarness({ kafka, store, limits: { bodyLimitBytes: 64 * 1024 } });
  agentKey = await gw.key('acme', 'agent');
});

afterAll(async () => {
  await gw?.close();
  await kafka?.log.close();
  await store?.close();
});

describe('POST /v1/spans', () => {
  it('produces the valid items keyed by tree id and dead-letters each invalid one with its index and field', async () => {
    const batch = [
      wire({ kind: 'tool_call', name: 'web_search', runId: 'mixed-1', treeId: 'tree-m1', argsHash: 'a1' }),
      { ...wire({ kind: 'llm_call', name: 'gpt-4o', runId: 'mixed-1', treeId: 'tree-m1' }), kind: 'thinking' },
      { ...wire({ kind: 'llm_call', name: 'gpt-4o', runId: 'mixed-2', treeId: 'tree-m2' }), tenantId: 'acme' },
      { ...wire({ kind: 'llm_call', name: 'gpt-4o', runId: 'mixed-3', treeId: 'tree-m3' }), tenantId: 'globex' },
      wire({ kind: 'run_end', name: 'researcher', runId: 'mixed-3', treeId: 'tree-m3' }),
    ];
    const response = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { spans: batch } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      accepted: 3,
      rejected: [
        { index: 1, field: 'spans.1.kind', message: expect.stringContaining('run_start') },
        { index: 3, field: 'spans.3.tenantId', message: "must be omitted or equal to the API key's tenant" },
      ],
    });

    const produced = await eventually('3 spans on the topic', async () => {
      const messages = await readAll(kafka.log, kafka.topics.spans);
      const ours = messages.filter((m) => m.key?.startsWith('tree-m'));
      return ours.length >= 3 ? ours : undefined;
    });
    expect(produced).toHaveLength(3);
    for (const message of produced) {
      const event = spanEventCodec.decode(message.value!);
      expect(event.tenantId).toBe('acme');
      expect(message.key).toBe(event.treeId);
      expect(message.partition).toBe(partitionForKey(event.treeId, 3));
    }
    expect(produced.map((m) => spanEventCodec.decode(m.value!).eventId).sort()).toEqual([batch[0], batch[2], batch[4]].map((s) => s!.eventId).sort());

    const letters = (await readAll(kafka.log, kafka.topics.deadLetter)).map((m) => deadLetterSchema.parse(JSON.parse(m.value!.toString())));
    const ours = letters.filter((l) => l.source === 'gateway' && l.reason.startsWith('spans.'));
    expect(ours.map((l) => [l.code, l.reason.split(':')[0], l.tenantId])).toEqual(expect.arrayContaining([
      ['INVALID_SPAN', 'spans.1.kind', 'acme'],
      ['TENANT_MISMATCH', 'spans.3.tenantId', 'acme'],
    ]));
    const replayable = ours.find((l) => l.code === 'INVALID_SPAN')!;
    expect(JSON.parse(Buffer.from(replayable.payloadBase64!, 'base64').toString())).toEqual(batch[1]);
  });

  it('answers 400 with the same shape when every item is refused, and 200 for an empty batch', async () => {
    const bad = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { spans: [{ kind: 'tool_call' }, 42] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ accepted: 0, rejected: [{ index: 0, field: 'spans.0.eventId', message: 'required' }, { index: 1, field: 'spans.1', message: 'expected a span object' }] });
    const empty = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { spans: [] } });
    expect([empty.statusCode, empty.json()]).toEqual([200, { accepted: 0, rejected: [] }]);
    const shapeless = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { span: [] } });
    expect([shapeless.statusCode, shapeless.json().error.field]).toEqual([400, 'spans']);
  });

  it('answers 401 without a key or with an unknown one, 403 to a role that may not ingest, 413 over the body limit', async () => {
    const payload = { spans: [wire({ kind: 'custom', name: 'x' })] };
    expect((await gw.call(null, { method: 'POST', url: '/v1/spans', payload })).statusCode).toBe(401);
    const unknown = await gw.call(`fbx_0123456789abcdef_${'a'.repeat(43)}`, { method: 'POST', url: '/v1/spans', payload });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const finance = await gw.call(await gw.key('acme', 'finance'), { method: 'POST', url: '/v1/spans', payload });
    expect([finance.statusCode, finance.json().error.code]).toEqual([403, 'FORBIDDEN']);
    const huge = { spans: Array.from({ length: 400 }, () => wire({ kind: 'custom', name: 'x'.repeat(200) })) };
    const tooLarge = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: huge });
    expect([tooLarge.statusCode, tooLarge.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('answers 429 with Retry-After once a key is over its rate, other keys unaffected', async () => {
    const frozen = () => 1_700_000_000_000; // no time passes: no token comes back
    const limited = await gatewayHarness({ kafka, store, clock: frozen, limits: { ratePerSecond: 0.5, rateBurst: 2 } });
    try {
      const key = await limited.key('acme', 'agent');
      const post = (k: string) => limited.call(k, { method: 'POST', url: '/v1/spans', payload: { spans: [] } });
      expect((await post(key)).statusCode).toBe(200);
      expect((await post(key)).statusCode).toBe(200);
      const third = await post(key);
      expect(third.statusCode).toBe(429);
      expect(third.headers['retry-after']).toBe('2');
      expect(third.json().error.code).toBe('RATE_LIMITED');
      expect((await post(await limited.key('acme', 'agent'))).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('answers 503 with Retry-After when the producer backlog is at its bound, producing nothing', async () => {
    const draining = await gatewayHarness({ kafka, store, limits: { maxPendingSpans: 0 } });
    try {
      const response = await draining.call(await draining.key('acme', 'agent'), { method: 'POST', url: '/v1/spans', payload: { spans: [wire({ kind: 'custom', name: 'x', treeId: 'tree-overload', runId: 'r-overload' })] } });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json().error.code).toBe('OVERLOADED');
      expect((await readAll(kafka.log, kafka.topics.spans)).filter((m) => m.key === 'tree-overload')).toHaveLength(0);
    } finally {
      await draining.close();
    }
  });
});

describe('API keys', () => {
  it('trusts a key read from ClickHouse for its TTL, and refuses it once revoked from the first request after the TTL', async () => {
    let nowMs = 1_700_000_000_000;
    const cached = await gatewayHarness({ kafka, store, clock: () => nowMs, limits: { keyTtlMs: 5_000 } });
    try {
      const key = await cached.key('acme', 'agent');
      const post = () => cached.call(key, { method: 'POST', url: '/v1/spans', payload: { spans: [] } });
      expect((await post()).statusCode).toBe(200);
      const record = (await findApiKey(store.client, keyIdOf(key)!))!;
      await revokeApiKey(store.client, record, nowMs);
      nowMs += 4_999;
      expect((await post()).statusCode).toBe(200); // the documented window: revoked, still cached
      nowMs += 1;
      const refused = await post();
      expect([refused.statusCode, refused.json()]).toEqual([401, { error: { code: 'UNAUTHENTICATED', message: `API key ${record.keyId} was revoked` } }]);
      nowMs += 60_000;
      expect((await post()).statusCode).toBe(401);
    } finally {
      await cached.close();
    }
  });

  it('checks the secret on every request, cached or not: a known key id with another secret is refused', async () => {
    const key = await gw.key('acme', 'agent');
    expect((await gw.call(key, { method: 'POST', url: '/v1/spans', payload: { spans: [] } })).statusCode).toBe(200);
    const forged = `${key.slice(0, 21)}${key.at(21) === 'A' ? 'B' : 'A'}${key.slice(22)}`;
    const refused = await gw.call(forged, { method: 'POST', url: '/v1/spans', payload: { spans: [] } });
    expect([refused.statusCode, refused.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
  });
});

describe('POST /v1/traces bodies that cannot be read', () => {
  it('answers 400 with a clear message to JSON that does not parse or is not an export request', async () => {
    const garbled = await gw.call(agentKey, { method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: '{"resourceSpans": [' });
    expect([garbled.statusCode, garbled.json().error.code, garbled.json().error.field]).toEqual([400, 'INVALID_REQUEST', 'body']);
    expect(garbled.json().error.message).toMatch(/JSON/);
    const notRequest = await gw.call(agentKey, { method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: '[1, 2]' });
    expect([notRequest.statusCode, notRequest.json().error]).toEqual([400, { code: 'INVALID_REQUEST', field: 'body', message: 'body: expected an ExportTraceServiceRequest object' }]);
  });

  it('answers protobuf requests in protobuf: a google.rpc.Status for bytes that do not decode, and for a refused key', async () => {
    const garbled = await gw.call(agentKey, { method: 'POST', url: '/v1/traces', headers: { 'content-type': PROTOBUF }, payload: Buffer.from([0x0a, 0xff, 0xff, 0xff]) });
    expect([garbled.statusCode, garbled.headers['content-type']]).toEqual([400, PROTOBUF]);
    expect(decodeErrorStatus(garbled.rawPayload).message).toMatch(/^INVALID_REQUEST: not an OTLP ExportTraceServiceRequest in protobuf: /);
    const unknown = await gw.call(null, { method: 'POST', url: '/v1/traces', headers: { 'content-type': PROTOBUF }, payload: Buffer.alloc(0) });
    expect([unknown.statusCode, unknown.headers['content-type'], decodeErrorStatus(unknown.rawPayload).message]).toEqual([401, PROTOBUF, expect.stringMatching(/^UNAUTHENTICATED: missing API key/)]);
    // /v1/spans speaks JSON only: its refusal of protobuf is JSON.
    const spans = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', headers: { 'content-type': PROTOBUF }, payload: Buffer.from([1]) });
    expect([spans.statusCode, spans.json().error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('breakers for HTTP agents', () => {
  it('tells a run its breaker state from the control topic; another tenant gets 404, flagged', async () => {
    const r = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { spans: [wire({ kind: 'tool_call', name: 'web_search', runId: 'run-b1', treeId: 'tree-b1' })] } });
    expect(r.statusCode).toBe(200);
    const before = await gw.call(agentKey, { method: 'GET', url: '/v1/runs/run-b1/breaker?tree=tree-b1' });
    expect([before.statusCode, before.json()]).toEqual([200, { state: 'closed', event: null }]);

    const trip = control({ eventId: 'trip-b1', tenantId: 'acme', scope: 'run', target: 'run-b1', treeId: 'tree-b1' });
    await publish([trip]);
    const open = await eventually('the trip to reach the gateway', async () => {
      const response = await gw.call(agentKey, { method: 'GET', url: '/v1/runs/run-b1/breaker?tree=tree-b1' });
      return response.json().state === 'open' ? response.json() : undefined;
    });
    expect(open).toEqual({ state: 'open', event: trip });
    const tree = await gw.call(await gw.key('acme', 'sre'), { method: 'GET', url: '/v1/trees/tree-b1/breaker' });
    expect([tree.statusCode, tree.json().state]).toEqual([200, 'closed']); // a run-scope trip leaves the tree's breaker closed

    const intruder = await gw.key('globex', 'agent');
    const theirs = await gw.call(intruder, { method: 'GET', url: '/v1/runs/run-b1/breaker' });
    const nobodys = await gw.call(intruder, { method: 'GET', url: '/v1/runs/run-nobody/breaker' });
    expect([theirs.statusCode, theirs.json()]).toEqual([404, { error: { code: 'NOT_FOUND', message: "run 'run-b1' not found" } }]);
    expect(nobodys.statusCode).toBe(404);
    const flagged = await accessLog(store.client, 'globex', { flaggedOnly: true });
    expect(flagged.map((row) => [row.resource_id, row.status_code, row.flag_reason])).toEqual([['run-b1', 404, 'cross_tenant']]);
  });

  it('knows an agent halt that stands only on breaker-state (its control events past retention)', async () => {
    const r = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: { spans: [wire({ kind: 'tool_call', name: 'web_search', agentId: 'night-owl', runId: 'run-owl', treeId: 'tree-owl' })] } });
    expect(r.statusCode).toBe(200);
    const halt = control({ eventId: 'halt-standing', tenantId: 'acme', scope: 'agent', target: 'night-owl', action: 'kill' });
    const standing = standingMessage(halt, await kafka.log.partitionCount(kafka.topics.breakerState))!;
    const producer = await kafka.log.producer();
    await producer.send(kafka.topics.breakerState, [standing]);
    await producer.close();
    const state = await eventually('the standing halt to reach the gateway', async () => {
      const response = await gw.call(agentKey, { method: 'GET', url: '/v1/runs/run-owl/breaker?agent=night-owl' });
      return response.json().state === 'open' ? response.json() : undefined;
    });
    expect(state).toEqual({ state: 'open', event: halt });
    const other = await gw.call(agentKey, { method: 'GET', url: '/v1/runs/run-owl/breaker?agent=early-bird' });
    expect(other.json().state).toBe('closed');
  });

  it('knows a tree trip that stands only on breaker-state, and lets it go at its tombstone (the processor forgot the tree)', async () => {
    const trip = control({ eventId: 'trip-standing', tenantId: 'acme', scope: 'tree', target: 'tree-stood', treeId: 'tree-stood', action: 'trip' });
    const partitions = await kafka.log.partitionCount(kafka.topics.breakerState);
    const producer = await kafka.log.producer();
    const treeState = async () => (await gw.call(agentKey, { method: 'GET', url: '/v1/trees/tree-stood/breaker' })).json();
    try {
      await producer.send(kafka.topics.breakerState, [standingMessage(trip, partitions)!]);
      expect(await eventually('the standing trip to reach the gateway', async () => ((await treeState()).state === 'open' ? treeState() : undefined))).toEqual({ state: 'open', event: trip });
      await producer.send(kafka.topics.breakerState, standingTombstones('acme', ['tree:tree-stood'], partitions));
      await eventually('the tombstone to close it', async () => (await treeState()).state === 'closed');
    } finally {
      await producer.close();
    }
  });

  it('streams the caller tenant\'s control events for the named trees (agent and tenant scope always) as SSE, after what is open at connect and the list of it', async () => {
    const address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await followControlStream(address, agentKey, '?tree=tree-s1');
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await eventually('the stream to be subscribed', () => gw.follower.subscribers > 0);
    // At connect: the tenant's open breakers that concern the stream (earlier tests left agent halts), then their list.
    const [atConnect] = await eventually('the list of open breakers', () => (stream.openLists.length > 0 ? stream.openLists : undefined));
    const snapshot = stream.control.splice(0);
    expect(snapshot.map((e) => e.eventId)).toEqual(atConnect!.eventIds);
    expect(snapshot.every((e) => e.tenantId === 'acme' && (e.scope === 'agent' || e.scope === 'tenant' || e.treeId === 'tree-s1'))).toBe(true);

    await publish([
      control({ eventId: 's-other-tree', tenantId: 'acme', scope: 'run', target: 'run-s2', treeId: 'tree-s2' }),
      control({ eventId: 's-other-tenant', tenantId: 'globex', scope: 'tree', target: 'tree-s1', treeId: 'tree-s1' }),
      control({ eventId: 's-mine', tenantId: 'acme', scope: 'run', target: 'run-s1', treeId: 'tree-s1' }),
      control({ eventId: 's-agent', tenantId: 'acme', scope: 'agent', target: 'researcher' }),
    ]);
    await eventually('both events of the caller on the stream', () => stream.control.length >= 2);
    // Everything was produced before the last one arrived: give a stray event the time to show up.
    await new Promise((ok) => setTimeout(ok, 500));
    expect(stream.control.map((e) => e.eventId).sort()).toEqual(['s-agent', 's-mine']);
    await stream.close();
    await eventually('the subscriber to be gone', () => gw.follower.subscribers === 0);

    // A stream connecting now is sent both, as open, before their list; not the other tree's, not the other tenant's.
    const again = await followControlStream(address, agentKey, '?tree=tree-s1');
    try {
      const [list] = await eventually('the list of open breakers', () => (again.openLists.length > 0 ? again.openLists : undefined));
      expect(again.control.map((e) => e.eventId)).toEqual(list!.eventIds);
      expect(list!.eventIds).toEqual(expect.arrayContaining(['s-agent', 's-mine']));
      expect(list!.eventIds).not.toContain('s-other-tree');
      expect(list!.eventIds).not.toContain('s-other-tenant');
    } finally {
      await again.close();
    }
  });
});

describe('policies for HTTP agents', () => {
  async function publishPolicies(policies: Array<Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'tenantId'>>): Promise<PolicyEvent[]> {
    const events = policies.map((p) => policyEventSchema.parse({ version: 1, selector: {}, detector: 'scope', params: { allowedTools: 'web_search' }, disposition: 'block', changedBy: 'sre', changedAtMs: Date.now(), ...p }));
    const producer = await kafka.log.producer();
    await producer.send(kafka.topics.policies, events.map((e) => ({ key: e.policyId, value: policyEventCodec.encode(e) })));
    await producer.close();
    return events;
  }

  it('answers the key tenant\'s enabled policies from the live topic, 304 while unchanged, a new version after a change', async () => {
    const get = (key: string, etag?: string) => gw.call(key, { method: 'GET', url: '/v1/policies', headers: etag ? { 'if-none-match': etag } : {} });
    const before = await get(agentKey);
    expect([before.statusCode, before.json()]).toEqual([200, { version: expect.any(String), policies: [] }]);
    expect(before.headers.etag).toBe(`"${before.json().version}"`);

    const [scopeAcme, capAcme] = await publishPolicies([
      { policyId: 'gp-scope-acme', tenantId: 'acme', selector: { agentId: 'researcher', tags: [], runId: null } },
      { policyId: 'gp-cap-acme', tenantId: 'acme', detector: 'iteration_cap', params: { maxSteps: '7' } },
      { policyId: 'gp-scope-globex', tenantId: 'globex', params: { allowedTools: 'shell' } },
      { policyId: 'gp-off-acme', tenantId: 'acme', enabled: false },
    ]);
    const changed = await eventually('the new policies to be served', async () => {
      const r = await get(agentKey, before.headers.etag as string);
      return r.statusCode === 200 && r.json().policies.length === 2 ? r : undefined;
    });
    expect(changed.json().policies).toEqual([capAcme, scopeAcme]); // ordered by id; globex's and the disabled one never
    expect(changed.headers.etag).not.toBe(before.headers.etag);
    const etag = changed.headers.etag as string;
    const unchanged = await get(agentKey, etag);
    expect([unchanged.statusCode, unchanged.body, unchanged.headers.etag]).toEqual([304, '', etag]);
    expect((await get(agentKey, `W/${etag}`)).statusCode).toBe(304);
    expect((await get(await gw.key('acme', 'sre'), etag)).statusCode).toBe(304); // a key that may read policies

    const theirs = await get(await gw.key('globex', 'agent'));
    expect(theirs.json().policies.map((p: PolicyEvent) => p.policyId)).toEqual(['gp-scope-globex']);
    expect((await get(await gw.key('globex', 'agent'), etag)).statusCode).toBe(200); // another tenant's version is not theirs

    // Disabled: gone from the answer, under a new version.
    await publishPolicies([{ ...scopeAcme!, version: 2, enabled: false }]);
    const disabled = await eventually('the disabled policy to disappear', async () => {
      const r = await get(agentKey, etag);
      return r.statusCode === 200 ? r : undefined;
    });
    expect(disabled.json().policies).toEqual([capAcme]);

    // Only answers that hand policies out are in the access log.
    const reads = (await accessLog(store.client, 'acme')).filter((row) => row.route === '/v1/policies');
    expect(reads.map((row) => row.status_code)).toEqual(expect.arrayContaining([200]));
    expect(reads.some((row) => row.status_code === 304)).toBe(false);
  });

  it('answers 401 without a known key, 403 to a role that may neither ingest nor read policies, 400 to a tenant parameter', async () => {
    expect((await gw.call(null, { method: 'GET', url: '/v1/policies' })).statusCode).toBe(401);
    const finance = await gw.call(await gw.key('acme', 'finance'), { method: 'GET', url: '/v1/policies' });
    expect([finance.statusCode, finance.json().error.code]).toEqual([403, 'FORBIDDEN']);
    const asked = await gw.call(agentKey, { method: 'GET', url: '/v1/policies?tenant=globex' });
    expect([asked.statusCode, asked.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
  });
});

describe('the control follower', () => {
  it('holds at most its bounds of owners and event ids, forgetting the oldest, and keeps every open breaker', async () => {
    const own = await freshKafka(1); // one partition: the order of reading is the order of writing
    const follower = createControlFollower(own.log, { live: [own.topics.control] }, silentLogger, { owners: 4, rememberedEvents: 3 });
    await follower.start();
    try {
      const runs = Array.from({ length: 6 }, (_, i) => control({ eventId: `bound-${i}`, tenantId: 'acme', scope: 'run', target: `run-bound-${i}`, treeId: `tree-bound-${i}` }));
      const agent = control({ eventId: 'bound-agent', tenantId: 'acme', scope: 'agent', target: 'researcher' });
      const producer = await own.log.producer();
      // The agent-scope event three times, as the per-partition copies arrive: applied once.
      await producer.send(own.topics.control, [...runs, agent, agent, agent].map((e) => ({ key: e.treeId ?? 'agent', value: controlEventCodec.encode(e) })));
      await producer.close();
      await eventually('every event to be applied', () => follower.applied === 7);
      await new Promise((ok) => setTimeout(ok, 300)); // a copy applied twice would show by now
      expect(follower.applied).toBe(7);
      expect(follower.memory).toEqual({ owners: 4, rememberedEvents: 3 });
      expect(['run-bound-0', 'tree-bound-3', 'run-bound-4', 'tree-bound-5'].map((id) => follower.ownerOf(id))).toEqual([undefined, undefined, 'acme', 'acme']);
      expect(runs.map((e) => follower.state('acme', { runId: e.target }).state)).toEqual(Array(6).fill('open'));
    } finally {
      await follower.stop();
      await own.log.close();
    }
  });
});

describe('health, readiness and metrics', () => {
  it('answers /healthz, /readyz with its checks, and /metrics in Prometheus text with the ingest counts', async () => {
    expect((await gw.call(null, { method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok', service: 'gateway' });
    const ready = await gw.call(null, { method: 'GET', url: '/readyz' });
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready', service: 'gateway', checks: { store: 'ok', control: 'ok', policies: 'ok' } }]);
    const metrics = await gw.call(null, { method: 'GET', url: '/metrics' });
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^fusebox_events_in_total\{kind="span",service="gateway"\} \d+$/m);
    expect(metrics.body).toMatch(/^fusebox_dead_letters_total\{code="INVALID_SPAN",service="gateway"\} \d+$/m);
    expect(metrics.body).toMatch(/^fusebox_http_request_duration_seconds_count\{service="gateway",method="POST",route="\/v1\/spans",status_code="200"\} [1-9]\d*$/m);
  });

  it('answers /readyz 503 with Retry-After, naming the dependency that is down, while the others pass', async () => {
    const kafkaDown = kafkaCheck(['127.0.0.1:1']); // nothing listens on port 1
    const degraded = await gatewayHarness({ kafka, store, checks: { kafka: kafkaDown } });
    try {
      const ready = await degraded.call(null, { method: 'GET', url: '/readyz' });
      expect([ready.statusCode, ready.headers['retry-after']]).toEqual([503, '5']);
      expect(ready.json()).toEqual({ status: 'not_ready', service: 'gateway', checks: { store: 'ok', control: 'ok', policies: 'ok', kafka: expect.stringContaining('Kafka at 127.0.0.1:1 did not answer') } });
      expect((await degraded.call(null, { method: 'GET', url: '/healthz' })).statusCode).toBe(200); // alive, just not ready
    } finally {
      await degraded.close();
      await kafkaDown.close();
    }
  });
});
