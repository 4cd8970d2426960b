/**
 * The agent registry governs, on the real broker with the real processor and sink: the allowed
 * tools an admin registers become the agent's scope policy on the policies topic, and the
 * processor trips a run that calls a tool outside them (and the agent client, which follows the
 * same policies, refuses such a call before it runs). Suspending the
 * agent opens its agent-scope breaker (every new run refused), resuming closes it; lifecycle
 * moves are checked; every change is in the history.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox } from '../../client/index.js';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { controlEventCodec, policyEventCodec, spanEventCodec } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { breakerEvents } from '../../storage/tables/breaker-events.js';
import { scope } from '../../streams/detectors/scope.js';
import { apiHarness, type ApiHarness } from '../../test/api.js';
import { brokers, eventually, readAll } from '../../test/kafka.js';
import { span } from '../../test/spans.js';
import { haltOf } from '../../test/client.js';
import type { Processor } from '../processor/processor.js';
import type { Sink } from '../sink/sink.js';
import { registryScopePolicyId } from './policies/policy-events.js';
import { startPipeline, type Pipeline } from '../../test/pipeline.js';

describe('agent registry on real Kafka, with the processor', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  let processor: Processor;
  let sink: Sink;
  let pipeline: Pipeline;
  let api: ApiHarness;
  let fusebox: Fusebox;
  let admin: string;
  let sre: string;
  const policyId = registryScopePolicyId('acme', 'researcher');

  beforeAll(async () => {
    pipeline = await startPipeline();
    ({ log, topics, prefix, store, processor, sink } = pipeline);
    api = await apiHarness({ log, topics, store });
    admin = await api.key('acme', 'admin');
    sre = await api.key('acme', 'sre');
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  });

  afterAll(async () => {
    await fusebox?.close();
    await api?.close();
    await pipeline?.stop();
  });

  const scopeGoverning = () => processor.policies.resolve(scope, { tenantId: 'acme', agentId: 'researcher', runId: 'any', tags: [] });

  it('registering allowed tools publishes the scope policy, and the processor trips a call outside them', async () => {
    const registered = await api.call(admin, { method: 'POST', url: '/v1/agents', payload: { agentId: 'researcher', owner: 'research-team', lifecycle: 'staging', allowedTools: ['web_search', 'docs.*'] } });
    expect(registered.statusCode).toBe(201);
    expect(registered.json()).toMatchObject({ agentId: 'researcher', owner: 'research-team', lifecycle: 'staging', suspended: false, allowedTools: ['web_search', 'docs.*'], version: 1 });
    expect(registered.json().policies).toEqual([{ policyId, version: 1, detector: 'scope', disposition: 'block', enabled: true, managedBy: 'registry' }]);

    // On the compacted topic, keyed by the policy id, as every processor reads it.
    const [message] = await eventually('the scope policy on the policies topic', async () => {
      const messages = (await readAll(log, topics.policies)).filter((m) => m.key === policyId);
      return messages.length === 1 && messages;
    });
    expect(policyEventCodec.decode(message!.value!)).toMatchObject({ tenantId: 'acme', detector: 'scope', version: 1, selector: { agentId: 'researcher' }, params: { allowedTools: 'web_search,docs.*' }, disposition: 'block', enabled: true });
    await eventually('the processor to hold the scope policy', () => scopeGoverning()?.ref.policyId === policyId);

    // An agent without the TypeScript client (another language, over HTTP): its spans reach the
    // processor unchecked, and the processor trips the run at the first tool outside the set.
    const runId = `bare-${randomUUID()}`;
    const t0 = Date.now();
    const spans = [
      span({ kind: 'run_start', name: 'run', tenantId: 'acme', agentId: 'researcher', runId, treeId: runId, eventId: `${runId}-0`, startTimeMs: t0 }),
      span({ kind: 'tool_call', name: 'web_search', status: 'ok', tenantId: 'acme', agentId: 'researcher', runId, treeId: runId, eventId: `${runId}-1`, startTimeMs: t0 + 1 }),
      span({ kind: 'tool_call', name: 'docs.read', status: 'ok', tenantId: 'acme', agentId: 'researcher', runId, treeId: runId, eventId: `${runId}-2`, startTimeMs: t0 + 2 }),
      span({ kind: 'tool_call', name: 'shell.exec', status: 'ok', tenantId: 'acme', agentId: 'researcher', runId, treeId: runId, eventId: `${runId}-3`, startTimeMs: t0 + 3 }),
    ];
    const producer = await log.producer();
    await producer.send(topics.spans, spans.map((event) => ({ key: event.treeId, value: spanEventCodec.encode(event) })));
    await producer.close();
    const trip = await eventually('the processor\'s trip on the control topic', async () =>
      (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!)).find((event) => event.target === runId));
    expect(trip).toMatchObject({ tenantId: 'acme', scope: 'run', action: 'trip', policyId, policyVersion: 1, reason: { detector: 'scope', threshold: 0, observed: 1 } });
    expect(trip.reason?.message).toBe("tool 'shell.exec' is outside the agent's allowed tools (web_search, docs.*)");
    const audit = await eventually('the trip in breaker_events', async () => (await breakerEvents(store.client, 'acme', { runId }))[0]);
    expect(audit).toMatchObject({ detector: 'scope', policy_id: policyId, policy_version: 1, trigger_event_id: `${runId}-3` });

    // The TypeScript client follows the same policy and refuses the call before it runs.
    const refused = await eventually('the client to refuse shell.exec locally', async () => {
      const run = await fusebox.startRun();
      let ran = false;
      try {
        await run.tool('shell.exec', { cmd: 'ls' }, () => { ran = true; return 'ran'; });
      } catch (error) {
        if (error instanceof RunHalted && error.origin === 'local' && !ran) return error;
      }
      return false;
    });
    expect(refused.policy).toEqual({ id: policyId, version: 1 });
    const allowedRun = await fusebox.startRun();
    expect(await allowedRun.tool('web_search', { q: 'fusebox' }, () => 'results')).toBe('results');
  });

  it('changing the allowed tools publishes the next version, which the processor applies; the policies API cannot change it', async () => {
    const changed = await api.call(admin, { method: 'PATCH', url: '/v1/agents/researcher', payload: { allowedTools: ['web_search', 'docs.*', 'shell.exec'], reason: 'needs a shell' } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ version: 2, change: 'updated', scopePolicyVersion: 2, detail: 'allowed tools web_search, docs.* -> web_search, docs.*, shell.exec: needs a shell' });
    await eventually('the processor to hold version 2', () => scopeGoverning()?.ref.policyVersion === 2);
    expect((scopeGoverning()!.params as { allowedTools: string[] }).allowedTools).toEqual(['web_search', 'docs.*', 'shell.exec']);

    // The registry's policy is changed through the agent, not the policies API.
    const direct = await api.call(admin, { method: 'PATCH', url: `/v1/policies/${encodeURIComponent(policyId)}`, payload: { enabled: false } });
    expect(direct.statusCode).toBe(409);
    expect((await api.get(sre, `/v1/policies/${encodeURIComponent(policyId)}`)).json()).toMatchObject({ version: 2, managedBy: 'registry', enabled: true });
  });

  it('suspending opens the agent breaker (new runs refused); resuming closes it', async () => {
    const suspended = await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/suspend', payload: { reason: 'incident 42' } });
    expect(suspended.statusCode).toBe(200);
    expect(suspended.json()).toMatchObject({ suspended: true, change: 'suspended', detail: 'suspended; agent breaker opened: incident 42' });
    const killId = suspended.json().controlEventId;
    expect(killId).toEqual(expect.any(String));

    const run = await fusebox.startRun();
    const stop = await eventually('the agent breaker to refuse the run', () => haltOf(run));
    expect(stop).toMatchObject({ scope: 'agent', action: 'kill' });
    expect(stop.reason!.message).toMatch(/^agent suspended in the registry by key [0-9a-f]{16}: incident 42$/);
    const open = (await api.get(sre, '/v1/breakers/open')).json().breakers;
    expect(open).toEqual(expect.arrayContaining([expect.objectContaining({ scope: 'agent', target: 'researcher', source: 'operator', eventId: killId })]));
    expect((await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/suspend', payload: {} })).statusCode).toBe(409);

    const resumed = await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/resume', payload: {} });
    expect(resumed.json()).toMatchObject({ suspended: false, change: 'resumed' });
    await eventually('the agent breaker to close', () => haltOf(run) === undefined);
    expect(await run.tool('web_search', { q: 'back' }, () => 'back')).toBe('back');
  });

  it('moves through its lifecycle only by legal steps, and retiring halts it for good', async () => {
    expect((await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/lifecycle', payload: { state: 'production' } })).json()).toMatchObject({ lifecycle: 'production', change: 'lifecycle', detail: 'staging -> production' });
    const skip = await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/lifecycle', payload: { state: 'development' } });
    expect(skip.statusCode).toBe(409);
    expect(skip.json().error).toEqual({ code: 'CONFLICT', message: "agent 'researcher' cannot move from production to development (from production: staging, retired)" });
    const bad = await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/lifecycle', payload: { state: 'paused' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.field).toBe('body.state');

    const retired = await api.call(admin, { method: 'POST', url: '/v1/agents/researcher/lifecycle', payload: { state: 'retired', reason: 'replaced by researcher-2' } });
    expect(retired.json()).toMatchObject({ lifecycle: 'retired', detail: 'production -> retired; agent breaker opened: replaced by researcher-2' });
    const run = await fusebox.startRun();
    expect(await eventually('a retired agent\'s run refused', () => haltOf(run))).toMatchObject({ scope: 'agent' });
    expect((await api.call(admin, { method: 'PATCH', url: '/v1/agents/researcher', payload: { owner: 'someone' } })).statusCode).toBe(409);
  });

  it('keeps every change as history, newest first, and the sre may read it but not write', async () => {
    const history = (await api.get(sre, '/v1/agents/researcher/history')).json();
    expect(history.changes.map((c: { version: number; change: string; lifecycle: string }) => [c.version, c.change, c.lifecycle])).toEqual([
      [6, 'lifecycle', 'retired'], [5, 'lifecycle', 'production'], [4, 'resumed', 'staging'], [3, 'suspended', 'staging'], [2, 'updated', 'staging'], [1, 'registered', 'staging'],
    ]);
    expect(history.changes.every((c: { changedBy: string }) => c.changedBy === `key:${admin.slice(4, 20)}`)).toBe(true);
    expect((await api.get(sre, '/v1/agents')).json().agents.map((a: { agentId: string; lifecycle: string }) => [a.agentId, a.lifecycle])).toEqual([['researcher', 'retired']]);
    expect((await api.call(sre, { method: 'POST', url: '/v1/agents/researcher/resume', payload: {} })).statusCode).toBe(403);
  });
});
