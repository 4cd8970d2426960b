/**
 * Policies through the API on the real broker and chDB: each change is a new PolicyEvent version
 * on the compacted policies topic and is readable from the API at once; a bad policy is a 400
 * naming the field and publishes nothing; versions published by others are listed too. Then the
 * budget ledger of a tree: exact spend from its spans, the ceiling of the tree_budget policy in
 * force for it, what remains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { policyEventCodec, policyEventSchema, type PolicyEvent } from '../../schemas/index.js';
import { apiHarness, loopTrip, seedSpans, seedTrips, type ApiHarness } from '../../test/api.js';
import { eventually, freshKafka, readAll } from '../../test/kafka.js';
import { span } from '../../test/spans.js';

const T0 = Date.UTC(2026, 2, 1);

describe('policies through the API (real Kafka, chDB)', () => {
  let log: EventLog;
  let topics: Topics;
  let api: ApiHarness;
  let admin: string;
  let sre: string;
  let finance: string;

  beforeAll(async () => {
    ({ log, topics } = await freshKafka(3));
    api = await apiHarness({ log, topics });
    admin = await api.key('acme', 'admin');
    sre = await api.key('acme', 'sre');
    finance = await api.key('acme', 'finance');
  });
  afterAll(async () => {
    await api?.close();
    await log?.close();
  });

  const onTopic = async (policyId: string): Promise<PolicyEvent[]> =>
    (await readAll(log, topics.policies)).filter((m) => m.key === policyId).map((m) => policyEventCodec.decode(m.value!));

  let policyId: string;

  it('creates a policy: version 1 on the topic, keyed by its id, and readable at once', async () => {
    const created = await api.call(admin, { method: 'POST', url: '/v1/policies', payload: { detector: 'loop', selector: { agentId: 'poller' }, params: { threshold: 4 }, disposition: 'warn' } });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    policyId = body.policyId;
    expect(policyId).toMatch(/^pol_[0-9a-f]{16}$/);
    expect(body).toMatchObject({ version: 1, detector: 'loop', selector: { agentId: 'poller', tags: [], runId: null }, params: { threshold: '4' }, disposition: 'warn', enabled: true, managedBy: 'api', changedBy: `key:${admin.slice(4, 20)}` });

    // Read-after-write: the answer left only once the copy was in ClickHouse.
    expect((await api.get(sre, `/v1/policies/${policyId}`)).json()).toEqual(body);
    expect((await api.get(sre, '/v1/policies')).json().policies).toEqual([body]);
    const [event] = await eventually('version 1 on the policies topic', async () => { const e = await onTopic(policyId); return e.length === 1 && e; });
    expect(event).toMatchObject({ policyId, version: 1, tenantId: 'acme', detector: 'loop', params: { threshold: '4' }, disposition: 'warn', enabled: true });
  });

  it.each([
    ['a threshold that is not a number', { detector: 'loop', params: { threshold: 'three' } }, 'body.params.threshold'],
    ['a misspelt parameter', { detector: 'loop', params: { threshhold: 3 } }, 'body.params.threshhold'],
    ['an unknown detector', { detector: 'vibes' }, 'body.detector'],
    ['a tree budget without a ceiling', { detector: 'tree_budget', params: {} }, 'body.params.maxMicros'],
    ['an unknown disposition', { detector: 'loop', disposition: 'maybe' }, 'body.disposition'],
    ['a selector field that does not exist', { detector: 'loop', selector: { agent: 'x' } }, 'body.selector.agent'],
  ])('refuses %s with a 400 naming the field, and publishes nothing', async (_name, payload, field) => {
    const before = (await readAll(log, topics.policies)).length;
    const response = await api.call(admin, { method: 'POST', url: '/v1/policies', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'INVALID_REQUEST', field });
    expect(response.json().error.message.startsWith(`${field}: `)).toBe(true);
    expect((await readAll(log, topics.policies)).length).toBe(before);
    expect((await api.get(sre, '/v1/policies')).json().policies).toHaveLength(1);
  });

  it('changes a policy: the next version, on the topic and in the history', async () => {
    const changed = await api.call(admin, { method: 'PATCH', url: `/v1/policies/${policyId}`, payload: { params: { threshold: 5 }, disposition: 'block' } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ policyId, version: 2, params: { threshold: '5' }, disposition: 'block', selector: { agentId: 'poller' } });
    const bad = await api.call(admin, { method: 'PATCH', url: `/v1/policies/${policyId}`, payload: { params: { threshold: -1 } } });
    expect(bad.json().error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body.params.threshold' });
    expect((await api.call(admin, { method: 'PATCH', url: `/v1/policies/${policyId}`, payload: {} })).statusCode).toBe(400);

    const history = (await api.get(sre, `/v1/policies/${policyId}/history`)).json();
    expect(history.versions.map((v: { version: number; params: Record<string, string> }) => [v.version, v.params.threshold])).toEqual([[2, '5'], [1, '4']]);
    expect((await eventually('version 2 on the topic', async () => { const e = await onTopic(policyId); return e.length === 2 && e; })).map((e) => e.version)).toEqual([1, 2]);
  });

  it('disables a policy with a new version; disabling it again changes nothing', async () => {
    const disabled = await api.call(admin, { method: 'POST', url: `/v1/policies/${policyId}/disable` });
    expect(disabled.json()).toMatchObject({ version: 3, enabled: false, params: { threshold: '5' } });
    expect((await api.call(admin, { method: 'POST', url: `/v1/policies/${policyId}/disable` })).json()).toMatchObject({ version: 3, enabled: false });
    expect((await api.get(sre, '/v1/policies?enabled=true')).json().policies).toEqual([]);
    expect((await api.get(sre, '/v1/policies?enabled=false')).json().policies.map((p: { policyId: string }) => p.policyId)).toEqual([policyId]);
    expect((await eventually('version 3 on the topic', async () => { const e = await onTopic(policyId); return e.length === 3 && e; })).at(-1)).toMatchObject({ version: 3, enabled: false });
  });

  it('concurrent changes of one policy get consecutive versions, none published twice', async () => {
    const created = (await api.call(admin, { method: 'POST', url: '/v1/policies', payload: { detector: 'failure_streak', params: { threshold: 3 } } })).json();
    const thresholds = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
    const changes = await Promise.all(thresholds.map((threshold) => api.call(admin, { method: 'PATCH', url: `/v1/policies/${created.policyId}`, payload: { params: { threshold } } })));
    expect(changes.every((c) => c.statusCode === 200)).toBe(true);
    const expected = thresholds.map((_, i) => i + 2); // versions 2..11, each once
    expect(changes.map((c) => c.json().version).sort((a, b) => a - b)).toEqual(expected);
    const versions = await eventually('every version on the topic', async () => { const e = await onTopic(created.policyId); return e.length === expected.length + 1 && e; });
    expect(versions.map((v) => v.version)).toEqual([1, ...expected]);
    // the newest version holds the change that was applied last
    const newest = changes.find((c) => c.json().version === expected.at(-1))!.json();
    expect((await api.get(sre, `/v1/policies/${created.policyId}`)).json().params).toEqual(newest.params);
    await api.call(admin, { method: 'POST', url: `/v1/policies/${created.policyId}/disable` });
  });

  it('lists versions published by anyone on the topic, not only through this API', async () => {
    const producer = await log.producer();
    const external = policyEventSchema.parse({ policyId: 'ops-context', version: 7, tenantId: 'acme', selector: {}, detector: 'context_ceiling', params: { maxInputTokens: '100000' }, disposition: 'block', changedBy: 'ops-script', changedAtMs: T0 });
    await producer.send(topics.policies, [{ key: external.policyId, value: policyEventCodec.encode(external) }]);
    await producer.close();
    const listed = await eventually('the external policy listed', async () => (await api.get(sre, '/v1/policies?detector=context_ceiling')).json().policies[0]);
    expect(listed).toMatchObject({ policyId: 'ops-context', version: 7, changedBy: 'ops-script', managedBy: 'api' });
  });

  it('a finance key reads budgets but not policies', async () => {
    expect((await api.get(finance, '/v1/policies')).statusCode).toBe(403);
  });

  describe('the budget ledger of a tree', () => {
    const tree = 'tree-budget-1';
    const base = { tenantId: 'acme', treeId: tree };

    beforeAll(async () => {
      const spans = [
        span({ ...base, kind: 'run_start', name: 'r', agentId: 'planner', runId: tree, startTimeMs: T0, eventId: 'b-0' }),
        span({ ...base, kind: 'llm_call', name: 'm', agentId: 'planner', runId: tree, startTimeMs: T0 + 1, eventId: 'b-1', model: 'gpt-4o', costMicros: 1_234_567, inputTokens: 1_000, outputTokens: 200, cachedTokens: 500 }),
        span({ ...base, kind: 'spawn', name: 'child', agentId: 'planner', runId: tree, startTimeMs: T0 + 2, eventId: 'b-2' }),
        span({ ...base, kind: 'llm_call', name: 'm', agentId: 'writer', runId: 'child-1', parentRunId: tree, startTimeMs: T0 + 3, eventId: 'b-3', model: 'gpt-4o', costMicros: 765_433, inputTokens: 300, outputTokens: 100 }),
        span({ ...base, kind: 'llm_call', name: 'm', agentId: 'writer', runId: 'child-1', parentRunId: tree, startTimeMs: T0 + 4, eventId: 'b-4', model: 'mystery-model', costMicros: null, inputTokens: 10, outputTokens: 5 }),
      ];
      await seedSpans(api.store, spans);
      await seedSpans(api.store, spans.slice(1, 2)); // redelivered by the sink: counts once
      await seedTrips(api.store, [loopTrip({ eventId: 'budget-trip', tenantId: 'acme', runId: 'child-1', treeId: tree, scope: 'tree', target: tree, detector: 'tree_budget', threshold: 1_500_000, observed: 2_000_000, policyId: 'p', policyVersion: 1 })]);
    });

    it('without a budget policy: exact spend, no ceiling, nothing remaining to count', async () => {
      const response = await api.get(finance, `/v1/trees/${tree}/budget`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        treeId: tree, rootRunId: tree, agentId: 'planner',
        spent: { costMicros: 2_000_000, costUsd: '2.000000', unpricedSpans: 1, tokens: 1_615, inputTokens: 1_310, outputTokens: 305, cachedTokens: 500, spans: 5 },
        ceiling: null, remaining: { costMicros: null, tokens: null }, exceeded: false,
        trip: { eventId: 'budget-trip', observed: 2_000_000, threshold: 1_500_000 },
        asOf: new Date(T0 + 4 + 100).toISOString(),
      });
    });

    it('with the root agent\'s tree_budget policy: its ceiling and what remains, from the moment it is created', async () => {
      const created = await api.call(admin, { method: 'POST', url: '/v1/policies', payload: { detector: 'tree_budget', selector: { agentId: 'planner' }, params: { maxMicros: 2_500_000, maxTokens: 1_600 } } });
      expect(created.statusCode).toBe(201);
      const budget = (await api.get(finance, `/v1/trees/${tree}/budget`)).json();
      expect(budget.ceiling).toEqual({ maxMicros: 2_500_000, maxUsd: '2.500000', maxTokens: 1_600, policyId: created.json().policyId, policyVersion: 1, disposition: 'block' });
      expect(budget.remaining).toEqual({ costMicros: 500_000, tokens: -15 });
      expect(budget.exceeded).toBe(true);

      // A tenant-wide budget is less specific than the agent's: the agent's stays in force.
      await api.call(admin, { method: 'POST', url: '/v1/policies', payload: { detector: 'tree_budget', params: { maxMicros: 1 } } });
      expect((await api.get(finance, `/v1/trees/${tree}/budget`)).json().ceiling.maxMicros).toBe(2_500_000);
      // Disabled, the agent's budget gives way to the tenant's.
      await api.call(admin, { method: 'POST', url: `/v1/policies/${created.json().policyId}/disable` });
      expect((await api.get(finance, `/v1/trees/${tree}/budget`)).json()).toMatchObject({ ceiling: { maxMicros: 1, maxTokens: null }, remaining: { costMicros: -1_999_999, tokens: null } });
    });

    it('an sre may not read budgets; a tree that does not exist is 404', async () => {
      expect((await api.get(sre, `/v1/trees/${tree}/budget`)).statusCode).toBe(403);
      expect((await api.get(finance, '/v1/trees/no-such-tree/budget')).statusCode).toBe(404);
    });
  });
});
