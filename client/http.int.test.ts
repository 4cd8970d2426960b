/**
 * The HTTP transport against the real gateway (services/gateway) on the real broker, with the
 * real processor: a looping agent that cannot reach Kafka is halted through the gateway's
 * control stream; a batch over the gateway's body limit is split and arrives whole; spans the
 * gateway rejects are reported with their field, never retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { spanEventCodec, type ControlEvent } from '../schemas/index.js';
import { controlMessages, standingMessage } from '../services/control-messages.js';
import { silentLogger } from '../services/logger.js';
import { createProcessor, type Processor } from '../services/processor/processor.js';
import type { Store } from '../storage/store.js';
import { gatewayHarness, type GatewayHarness } from '../test/gateway.js';
import { haltOf } from '../test/client.js';
import { eventually, freshKafka, readAll } from '../test/kafka.js';
import { freshStore } from '../test/store.js';
import { createFusebox, RunHalted, type Fusebox, type FuseboxOptions, type FuseboxWarning } from './index.js';

describe('agent client over the HTTP gateway (real gateway, broker, processor)', () => {
  let kafka: { log: EventLog; topics: Topics; prefix: string };
  let store: Store;
  let gw: GatewayHarness;
  let processor: Processor;
  let url: string;
  let agentKey: string;
  const clients: Fusebox[] = [];

  beforeAll(async () => {
    kafka = await freshKafka(3);
    store = await freshStore();
    gw = await gatewayHarness({ kafka, store, limits: { bodyLimitBytes: 16 * 1024, heartbeatMs: 300 } });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    agentKey = await gw.key('acme', 'agent');
    processor = createProcessor({ log: kafka.log, topics: kafka.topics, logger: silentLogger, groupId: `${kafka.prefix}.processor` });
    await processor.start();
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close(2_000)));
    await processor?.stop();
    await gw?.close();
    await kafka?.log.close();
    await store?.close();
  });

  async function client(over: Partial<FuseboxOptions> = {}): Promise<Fusebox> {
    const fusebox = await createFusebox({ transport: 'http', url, apiKey: agentKey, tenantId: 'acme', agentId: 'http-agent', logLine: () => {}, ...over });
    clients.push(fusebox);
    return fusebox;
  }

  it('halts a looping agent through the gateway\'s control stream; heartbeats keep it fresh', async () => {
    const fusebox = await client({ staleAfterMs: 1_500, whenStale: 'closed' });
    const run = await fusebox.startRun();
    const failing = () => run.tool('web_search', { q: 'fusebox pricing' }, () => { throw new Error('HTTP 503'); }).catch((e: unknown) => e);
    let calls = 0;
    const halted = await eventually('the loop breaker to halt the run', async () => {
      const outcome = await failing();
      calls += 1;
      if (outcome instanceof RunHalted) return outcome;
      await new Promise((ok) => setTimeout(ok, 200));
      return undefined;
    }, 60_000);
    expect(halted).toMatchObject({ origin: 'control', scope: 'run', reason: { detector: 'loop', threshold: 3, observed: 3 }, policy: { id: 'builtin:loop', version: 1 } });
    expect(calls).toBeGreaterThanOrEqual(4); // three calls made, the fourth (or a later one) refused
    // Idle for twice the bound: the stream's heartbeats are contact, so the client never failed closed.
    await new Promise((ok) => setTimeout(ok, 3_000));
    expect(fusebox.stats().stale).toBe(false);
  }, 90_000);

  it('hears at connect what stood before it, and at reconnect the resets it missed while the gateway was down', async () => {
    const publish = async (event: ControlEvent) => {
      const producer = await kafka.log.producer();
      await producer.send(kafka.topics.control, controlMessages(event, await kafka.log.partitionCount(kafka.topics.control)));
      await producer.send(kafka.topics.breakerState, [standingMessage(event, await kafka.log.partitionCount(kafka.topics.breakerState))!]);
      await producer.close();
    };
    // A gateway of its own, to stop and start again on the same port.
    let own = await gatewayHarness({ kafka, store, limits: { heartbeatMs: 300 } });
    const ownUrl = await own.app.listen({ port: 0, host: '127.0.0.1' });
    const fusebox = await client({ url: ownUrl });
    const run = await fusebox.startRun();
    const halt: ControlEvent = { eventId: `halt-${run.treeId}`, tenantId: 'acme', scope: 'tree', target: run.treeId, treeId: run.treeId, action: 'kill', reason: { detector: 'operator', threshold: 0, observed: 0, windowMs: null, message: 'halted' }, policyId: null, policyVersion: null, timeMs: Date.now() };
    await publish(halt);
    await eventually('the halt heard live', () => haltOf(run)?.scope === 'tree');

    // A worker started after the halt, handed a child run of that tree: refused from what the stream sent at connect.
    const worker = await client({ url: ownUrl, agentId: 'worker' });
    expect(haltOf(await worker.joinRun({ runId: `${run.id}-child`, treeId: run.treeId, parentRunId: run.id, agentId: 'worker' }))).toMatchObject({ scope: 'tree', action: 'kill' });

    // The gateway goes away; the reset happens while it is down (no stream carries it live).
    const port = new URL(ownUrl).port;
    await own.close();
    await publish({ ...halt, eventId: `reset-${run.treeId}`, action: 'reset', reason: null, timeMs: Date.now() });
    own = await gatewayHarness({ kafka, store, limits: { heartbeatMs: 300 } });
    try {
      await own.app.listen({ port: Number(port), host: '127.0.0.1' });
      // The stream reconnects; the list of open breakers no longer has the halt.
      await eventually('the client to let the run go', () => haltOf(run) === undefined, 30_000);
    } finally {
      await Promise.allSettled([fusebox.close(2_000), worker.close(2_000)]);
      await own.close();
    }
  }, 90_000);

  it('splits a batch the gateway finds too large (413) and delivers every span', async () => {
    const fusebox = await client({ batchSize: 300, lingerMs: 50 });
    const run = await fusebox.startRun();
    for (let i = 0; i < 299; i++) run.record({ kind: 'custom', name: `step-${i}`, status: 'ok' });
    expect(await fusebox.close(30_000)).toEqual({ unsent: 0 });
    expect(fusebox.stats()).toMatchObject({ sent: 300, rejected: 0, dropped: 0 });
    const ours = await eventually('all 300 spans on the topic', async () => {
      const ids = new Set((await readAll(kafka.log, kafka.topics.spans)).map((m) => spanEventCodec.decode(m.value!)).filter((s) => s.runId === run.id).map((s) => s.eventId));
      return ids.size >= 300 ? ids : undefined;
    });
    expect(ours.size).toBe(300);
  }, 90_000);

  it('reports spans the gateway rejects, with their field, and does not retry them', async () => {
    const warnings: FuseboxWarning[] = [];
    const fusebox = await client({ tenantId: 'globex', onWarning: (w) => warnings.push(w) }); // an acme key claiming globex
    const run = await fusebox.startRun();
    await run.tool('web_search', { q: 1 }, () => 1);
    await fusebox.close(10_000);
    expect(fusebox.stats()).toMatchObject({ rejected: 2, buffered: 0, sendErrors: 0 });
    const rejected = warnings.flatMap((w) => (w.kind === 'rejected' ? w.spans : []));
    expect(rejected.map((r) => r.field)).toEqual(['spans.0.tenantId', 'spans.1.tenantId']);
    const onTopic = (await readAll(kafka.log, kafka.topics.spans)).filter((m) => spanEventCodec.decode(m.value!).runId === run.id);
    expect(onTopic).toHaveLength(0);
  }, 60_000);
});
