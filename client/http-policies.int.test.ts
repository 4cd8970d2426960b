/**
 * Policies for agents that only speak HTTP, end to end on the real broker, gateway, query API
 * and processor: a policy created through the API reaches an HTTP client of its tenant within a
 * poll (the client refuses a disallowed tool itself, with the reason and policy the processor
 * then trips with), never a client of another tenant, and goes away when disabled; unchanged
 * sets are answered 304; a poll answered counts as contact for the staleness bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { silentLogger } from '../services/logger.js';
import { createProcessor, type Processor } from '../services/processor/processor.js';
import type { Store } from '../storage/store.js';
import { apiHarness, type ApiHarness } from '../test/api.js';
import { gatewayHarness, type GatewayHarness } from '../test/gateway.js';
import { eventually, freshKafka } from '../test/kafka.js';
import { refusal } from '../test/client.js';
import { freshStore } from '../test/store.js';
import { createFusebox, RunHalted, type Fusebox, type FuseboxOptions } from './index.js';

describe('policies over the HTTP gateway (real gateway, API, broker, processor)', () => {
  let kafka: { log: EventLog; topics: Topics; prefix: string };
  let store: Store;
  let gw: GatewayHarness;
  let api: ApiHarness;
  let processor: Processor;
  let url: string;
  const clients: Fusebox[] = [];

  beforeAll(async () => {
    kafka = await freshKafka(3);
    store = await freshStore();
    gw = await gatewayHarness({ kafka, store, limits: { heartbeatMs: 300 } });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    api = await apiHarness({ log: kafka.log, topics: kafka.topics, store });
    processor = createProcessor({ log: kafka.log, topics: kafka.topics, logger: silentLogger, groupId: `${kafka.prefix}.processor` });
    await processor.start();
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close(2_000)));
    await processor?.stop();
    await api?.close();
    await gw?.close();
    await kafka?.log.close();
    await store?.close();
  });

  async function client(tenantId: string, over: Partial<FuseboxOptions> = {}): Promise<Fusebox> {
    const fusebox = await createFusebox({ transport: 'http', url, apiKey: await gw.key(tenantId, 'agent'), tenantId, agentId: 'http-agent', policyPollMs: 200, logLine: () => {}, ...over });
    clients.push(fusebox);
    return fusebox;
  }

  const shell = { kind: 'tool_call', name: 'shell' } as const;

  it('a policy created through the API reaches its tenant\'s HTTP client (refused locally as the processor then trips), never another tenant\'s; disabling lifts it', async () => {
    const acme = await client('acme');
    const globex = await client('globex');
    expect(refusal(await acme.startRun(), shell)).toBeNull();

    const admin = await api.key('acme', 'admin');
    const created = await api.call(admin, { method: 'POST', url: '/v1/policies', payload: { detector: 'scope', selector: { agentId: 'http-agent' }, params: { allowedTools: 'web_search' } } });
    expect(created.statusCode).toBe(201);
    const policyId: string = created.json().policyId;

    const run = await acme.startRun();
    const local = await eventually('the policy to reach the HTTP client', () => refusal(run, shell) ?? undefined, 30_000);
    expect(local).toMatchObject({ origin: 'local', scope: 'run', policy: { id: policyId, version: 1 }, reason: { detector: 'scope', threshold: 0, observed: 1 } });
    expect(local.reason!.message).toBe("tool 'shell' is outside the agent's allowed tools (web_search)");
    let ran = false;
    await expect(run.tool('shell', { cmd: 'ls' }, () => { ran = true; })).rejects.toBeInstanceOf(RunHalted);
    expect(ran).toBe(false);
    // The refused attempt went over HTTP; the processor decides the same and its trip comes back on the stream.
    const fromProcessor = await eventually('the processor\'s trip to reach the client', () => {
      const halted = refusal(run);
      return halted?.origin === 'control' ? halted : undefined;
    }, 60_000);
    expect([fromProcessor.reason, fromProcessor.policy]).toEqual([local.reason, local.policy]);

    // globex polled several times since acme's client had the policy: none of it is theirs.
    const since = await gw.answered('GET', '/v1/policies', 304);
    await eventually('more polls answered', async () => (await gw.answered('GET', '/v1/policies', 304)) >= since + 6);
    const theirs = await globex.startRun();
    expect(refusal(theirs, shell)).toBeNull();
    expect(await theirs.tool('shell', { cmd: 'ls' }, () => 'ran')).toBe('ran');

    const disabled = await api.call(admin, { method: 'POST', url: `/v1/policies/${policyId}/disable` });
    expect([disabled.statusCode, disabled.json().enabled]).toEqual([200, false]);
    const after = await acme.startRun();
    await eventually('the disabled policy to be lifted on the HTTP client', () => refusal(after, shell) === null, 30_000);
    expect(await after.tool('shell', { cmd: 'ls' }, () => 'ran')).toBe('ran');
  }, 120_000);

  it('polls with the ETag: an unchanged set is answered 304, not sent again', async () => {
    await client('initech');
    const before = { changed: await gw.answered('GET', '/v1/policies', 200), unchanged: await gw.answered('GET', '/v1/policies', 304) };
    await eventually('polls answered 304', async () => (await gw.answered('GET', '/v1/policies', 304)) >= before.unchanged + 5);
    // Nothing changed for any tenant meanwhile (the other test's policy was disabled before), so no poll was a 200.
    expect(await gw.answered('GET', '/v1/policies', 200)).toBe(before.changed);
  }, 60_000);

  it('counts a poll answered as contact: a client whose control stream is silent does not go stale', async () => {
    const quiet = await gatewayHarness({ kafka, store, limits: { heartbeatMs: 60_000 } }); // no heartbeat within the test
    try {
      const quietUrl = await quiet.app.listen({ port: 0, host: '127.0.0.1' });
      const fusebox = await createFusebox({ transport: 'http', url: quietUrl, apiKey: await quiet.key('hooli', 'agent'), tenantId: 'hooli', agentId: 'quiet', policyPollMs: 200, staleAfterMs: 1_000, whenStale: 'closed', logLine: () => {} });
      try {
        const run = await fusebox.startRun();
        await new Promise((ok) => setTimeout(ok, 2_500)); // two and a half bounds of a silent stream
        expect(fusebox.stats().stale).toBe(false);
        expect(refusal(run)).toBeNull();
      } finally {
        await fusebox.close(1_000);
      }
    } finally {
      await quiet.close();
    }
  }, 60_000);
});
