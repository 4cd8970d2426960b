/**
 * Halt and reset through the API on the real Kafka broker: the ControlEvent is on the control
 * topic under the right key and partition(s), and a real agent client hears it and stops (or
 * resumes) before its next action. The client's spans reach ClickHouse through the real sink,
 * which is how the API learns the run exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../../client/index.js';
import { partitionForKey } from '../../log/partitioner.js';
import type { EventLog, GroupConsumer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { controlEventCodec, type ControlEvent } from '../../schemas/index.js';
import { apiHarness, type ApiHarness } from '../../test/api.js';
import { brokers, eventually, freshKafka, readAll } from '../../test/kafka.js';
import { haltOf } from '../../test/client.js';
import { freshStore } from '../../test/store.js';
import { silentLogger } from '../logger.js';
import { standingPartition } from '../control-messages.js';
import { createSink, type Sink } from '../sink/sink.js';
import type { Store } from '../../storage/store.js';

const PARTITIONS = 3;

describe('halt and reset on real Kafka', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  let sink: Sink;
  let api: ApiHarness;
  let fusebox: Fusebox;
  let reader: GroupConsumer;
  let sre: string;
  const published: { key: string | null; partition: number; event: ControlEvent }[] = [];

  beforeAll(async () => {
    ({ log, topics, prefix } = await freshKafka(PARTITIONS));
    store = await freshStore();
    sink = createSink({ log, topics, store, logger: silentLogger, groupId: `${prefix}-sink` });
    await sink.start();
    api = await apiHarness({ log, topics, store });
    sre = await api.key('acme', 'sre');
    reader = log.groupConsumer({
      groupId: `${prefix}-control-reader`, topics: [topics.control], fromBeginning: true,
      handleBatch: async (batch) => {
        for (const m of batch.messages) published.push({ key: m.key, partition: batch.partition, event: controlEventCodec.decode(m.value!) });
      },
    });
    await reader.start();
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  });

  afterAll(async () => {
    await fusebox?.close();
    await reader?.stop();
    await api?.close();
    await sink?.stop();
    await log?.close();
    await store?.close();
  });

  /** A run that has done something, stored, so the API knows it. */
  async function storedRun(): Promise<Run> {
    const run = await fusebox.startRun();
    await run.llm({ model: 'gpt-4o' }, async () => ({ output: 'ok', usage: { inputTokens: 10, outputTokens: 1, costMicros: 50 } }));
    await eventually(`run ${run.id} in ClickHouse`, async () => (await api.get(sre, `/v1/runs/${run.id}`)).statusCode === 200);
    return run;
  }


  const publishedWith = (eventId: string) => published.filter((p) => p.event.eventId === eventId);

  it('halting a run publishes a kill keyed by its tree; the agent stops before its next action; a reset lets it go on', async () => {
    const run = await storedRun();
    const response = await api.call(sre, { method: 'POST', url: `/v1/runs/${run.id}/halt`, payload: { reason: 'burning money' } });
    expect(response.statusCode).toBe(202);
    const { controlEventId } = response.json();

    const [message] = await eventually('the halt on the control topic', () => publishedWith(controlEventId).length === 1 && publishedWith(controlEventId));
    expect(message!.key).toBe(run.treeId);
    expect(message!.partition).toBe(partitionForKey(run.treeId, PARTITIONS));
    expect(message!.event).toMatchObject({ tenantId: 'acme', scope: 'run', target: run.id, treeId: run.treeId, action: 'kill', reason: { detector: 'operator' } });

    const stop = await eventually('the agent to hear the halt', () => haltOf(run));
    expect(stop.scope).toBe('run');
    expect(stop.reason?.message).toMatch(/^halted by operator \(key [0-9a-f]{16}\): burning money$/);
    await expect(run.tool('web_search', { q: 'x' }, () => 'never runs')).rejects.toBeInstanceOf(RunHalted);

    const reset = await api.call(sre, { method: 'POST', url: `/v1/runs/${run.id}/reset`, payload: {} });
    expect(reset.statusCode).toBe(202);
    await eventually('the agent to hear the reset', () => haltOf(run) === undefined);
    expect(await run.tool('web_search', { q: 'x' }, () => 'runs again')).toBe('runs again');
  });

  it('halting a tree stops every run in it, and a run handed into it later, in a client started since; its reset lets that go', async () => {
    const root = await storedRun();
    const handoff = root.handoff({ agentId: 'worker' }); // for a worker process started after the halt
    const child = await root.spawn({ agentId: 'summarizer' });
    const response = await api.call(sre, { method: 'POST', url: `/v1/trees/${root.treeId}/halt`, payload: {} });
    const { controlEventId } = response.json();
    const [message] = await eventually('the tree halt on the control topic', () => publishedWith(controlEventId).length === 1 && publishedWith(controlEventId));
    expect(message!.key).toBe(root.treeId);
    expect(message!.event).toMatchObject({ scope: 'tree', target: root.treeId, treeId: root.treeId, action: 'kill' });
    await eventually('both runs of the tree halted', () => haltOf(root)?.scope === 'tree' && haltOf(child)?.scope === 'tree');

    // The worker's client reads no control history (the halt's control event could be past any
    // lookback): the halt stands on breaker-state, read whole when the client starts.
    const worker = await createFusebox({ tenantId: 'acme', agentId: 'worker', brokers: brokers(), topicPrefix: prefix, controlLookbackMs: 0 });
    try {
      expect(haltOf(await worker.joinRun(handoff))).toMatchObject({ scope: 'tree', action: 'kill', origin: 'control' });
    } finally {
      await worker.close();
    }
    expect((await api.call(sre, { method: 'POST', url: `/v1/trees/${root.treeId}/reset`, payload: {} })).statusCode).toBe(202);
    await eventually('the tree reset heard', () => haltOf(root) === undefined);
    const later = await createFusebox({ tenantId: 'acme', agentId: 'worker', brokers: brokers(), topicPrefix: prefix });
    try {
      const run = await later.joinRun(handoff);
      await new Promise((ok) => setTimeout(ok, 300));
      expect(haltOf(run)).toBeUndefined();
    } finally {
      await later.close();
    }
  });

  it('halting an agent reaches its runs on every partition: one copy per partition, one event id', async () => {
    // Runs in several trees, so on several partitions.
    const runs: Run[] = [];
    while (new Set(runs.map((r) => partitionForKey(r.treeId, PARTITIONS))).size < 2) runs.push(await storedRun());
    const response = await api.call(sre, { method: 'POST', url: '/v1/agents/researcher/halt', payload: { reason: 'bad deploy' } });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ scope: 'agent', target: 'researcher', treeId: null, action: 'kill', messages: PARTITIONS });
    const { controlEventId } = response.json();

    const copies = await eventually('a copy on every control partition', () => publishedWith(controlEventId).length === PARTITIONS && publishedWith(controlEventId));
    expect(copies.map((c) => c.partition).sort()).toEqual([0, 1, 2]);
    expect(copies.every((c) => c.key!.startsWith('agent:acme:researcher#') && partitionForKey(c.key!, PARTITIONS) === c.partition)).toBe(true);
    expect(new Set(copies.map((c) => JSON.stringify(c.event))).size).toBe(1);

    await eventually('every run of the agent halted', () => runs.every((run) => haltOf(run)?.scope === 'agent'));
    const open = (await api.get(sre, '/v1/breakers/open')).json().breakers;
    expect(open).toEqual(expect.arrayContaining([expect.objectContaining({ scope: 'agent', target: 'researcher', source: 'operator', eventId: controlEventId })]));

    // A client started after the halt, reading no control history at all, knows it stands:
    // the halt is on the compacted breaker-state topic, read whole when a client starts.
    const standing = (await readAll(log, topics.breakerState)).filter((m) => m.key!.startsWith('agent:'));
    expect(standing.map((m) => [m.key, m.partition])).toEqual([['agent:acme:researcher', standingPartition('acme', PARTITIONS)]]);
    const late = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix, controlLookbackMs: 0 });
    try {
      expect(haltOf(await late.startRun())).toMatchObject({ scope: 'agent', action: 'kill' });
    } finally {
      await late.close();
    }

    await api.call(sre, { method: 'POST', url: '/v1/agents/researcher/reset', payload: {} });
    await eventually('the agent reset on every partition', () => runs.every((run) => haltOf(run) === undefined));
    // A client started now, with or without an hour of control history, lets the run go. (Once
    // compaction has left only the reset on breaker-state, that history replays the halt after
    // it: the board keeps the later one, breaker-board.unit.test.ts.)
    for (const controlLookbackMs of [0, undefined]) {
      const fresh = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix, controlLookbackMs });
      try {
        const run = await fresh.startRun();
        await new Promise((ok) => setTimeout(ok, 300));
        expect(haltOf(run)).toBeUndefined();
      } finally {
        await fresh.close();
      }
    }
  });
});
