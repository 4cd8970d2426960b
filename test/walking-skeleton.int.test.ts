/**
 * The spine, end to end on the real broker and chDB: an agent loops on a failing tool, the
 * processor trips its breaker through the control topic, the client refuses the next call,
 * and ClickHouse holds the audit record and every span exactly once, even after the sink is
 * restarted and re-reads the whole topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../client/index.js';
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import type { Processor } from '../services/processor/processor.js';
import { silentLogger } from '../services/logger.js';
import { createSink, type Sink } from '../services/sink/sink.js';
import { deadLetterSchema } from '../services/dead-letter.js';
import { spanEventCodec } from '../schemas/index.js';
import type { Store } from '../storage/store.js';
import { breakerEvents } from '../storage/tables/breaker-events.js';
import { runSpans } from '../storage/tables/spans.js';
import { span } from './spans.js';
import { brokers, eventually } from './kafka.js';
import { startPipeline, type Pipeline } from './pipeline.js';

/** A model "thinking" before each tool call: realistic, and the time a trip has to arrive. */
const THINK_MS = 500;

describe('walking skeleton: a looping agent halted through real Kafka, recorded in ClickHouse', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  let processor: Processor;
  let sink: Sink;
  let pipeline: Pipeline;
  let fusebox: Fusebox;

  beforeAll(async () => {
    pipeline = await startPipeline();
    ({ log, topics, prefix, store, processor, sink } = pipeline);
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  });

  afterAll(async () => {
    await fusebox?.close();
    await pipeline?.stop();
  });

  const failing = async () => { throw new Error('HTTP 503 Service Unavailable'); };

  /** The agent: think, then call a tool; `argsFor(i)` decides whether it repeats itself. */
  async function agentLoop(run: Run, argsFor: (i: number) => unknown, iterations: number, tool: (args: unknown) => Promise<unknown> = failing) {
    let toolExecutions = 0;
    let halted: RunHalted | null = null;
    try {
      for (let i = 0; i < iterations; i++) {
        await run.llm({ model: 'gpt-4o', provider: 'openai' }, async () => {
          await new Promise((ok) => setTimeout(ok, THINK_MS));
          return { output: 'call web_search', usage: { inputTokens: 900, outputTokens: 30, costMicros: 2_000 } };
        });
        const args = argsFor(i);
        await run.tool('web_search', args, async () => {
          toolExecutions += 1;
          return tool(args);
        }).catch((error: unknown) => {
          if (error instanceof RunHalted) throw error;
        });
      }
    } catch (error) {
      if (!(error instanceof RunHalted)) throw error;
      halted = error;
    }
    return { toolExecutions, halted };
  }

  it('halts a run before its 4th identical failing call, and audits the trip', async () => {
    const run = await fusebox.startRun({ userId: 'u-1' });
    const { toolExecutions, halted } = await agentLoop(run, () => ({ q: 'fusebox pricing', page: 1 }), 10);

    expect(toolExecutions).toBe(3);
    expect(halted).toBeInstanceOf(RunHalted);
    expect(halted!.scope).toBe('run');
    expect(halted!.reason).toMatchObject({ detector: 'loop', threshold: 3, observed: 3 });
    expect(halted!.policy).toEqual({ id: 'builtin:loop', version: 1 });
    expect(() => run.guard()).toThrow(RunHalted);

    const [audit] = await eventually('the audit row in ClickHouse', async () => {
      const rows = await breakerEvents(store.client, 'acme', { runId: run.id });
      return rows.length > 0 ? rows : undefined;
    });
    expect(audit).toMatchObject({
      detector: 'loop', threshold: 3, observed: 3, scope: 'run', target: run.id, tree_id: run.treeId,
      policy_id: 'builtin:loop', policy_version: 1,
      // model, tool, model, tool, model, tool: the 3rd identical failure is the 6th step
      steps_elapsed: 6, run_cost_micros: 6_000, tree_cost_micros: 6_000,
    });
    expect(audit!.last_action).toMatch(/^tool_call web_search args#[0-9a-f]{12}: Error: HTTP 503 Service Unavailable$/);

    run.end('error', 'halted by Fusebox');
    const { unsent } = await fusebox.close();
    expect(unsent).toBe(0);
    const sent = fusebox.stats().sent;
    // run_start, 4 model calls (the 4th ran before the tool guard refused), 3 tool calls, run_end
    expect(sent).toBe(9);

    const spans = await eventually('every span in ClickHouse', async () => {
      const rows = await runSpans(store.client, 'acme', run.id);
      return rows.length === sent ? rows : undefined;
    });
    expect(new Set(spans.map((s) => s.event_id)).size).toBe(sent);
    expect(spans.filter((s) => s.kind === 'tool_call')).toHaveLength(3);

    // Restart the sink as a new consumer that re-reads the whole topic: still exactly once.
    await sink.stop();
    sink = createSink({ log, topics, store, logger: silentLogger, groupId: `${prefix}-sink-reread` });
    await sink.start();
    await eventually('the restarted sink to re-read every span', () => sink.stats().spans >= sent);
    await eventually('the restarted sink to re-read the trip', () => sink.stats().breakerEvents >= 1);
    const reread = await runSpans(store.client, 'acme', run.id);
    expect(reread.map((s) => s.event_id).sort()).toEqual(spans.map((s) => s.event_id).sort());
    expect(await breakerEvents(store.client, 'acme', { runId: run.id })).toHaveLength(1);
    const [{ total, distinct }] = await (await store.client.query({
      query: 'SELECT count() AS total, uniqExact(event_id) AS distinct FROM spans FINAL WHERE run_id = {run:String}',
      query_params: { run: run.id },
      format: 'JSONEachRow',
    })).json<{ total: string; distinct: string }>() as [{ total: string; distinct: string }];
    expect(Number(total)).toBe(sent);
    expect(Number(distinct)).toBe(sent);

    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  });

  it('never trips the same agent when its arguments vary and it makes progress', async () => {
    // (Varied arguments that all fail would still trip, by the failure-streak default: see
    // streams/__fixtures__/varied-arguments.jsonl. Here each page returns new results.)
    const run = await fusebox.startRun();
    const { toolExecutions, halted } = await agentLoop(run, (i) => ({ q: 'fusebox pricing', page: i + 1 }), 6, async (args) => ({ results: [`result for ${JSON.stringify(args)}`] }));
    expect(halted).toBeNull();
    expect(toolExecutions).toBe(6);
    run.end('ok');
    await fusebox.close();
    const sent = fusebox.stats().sent;
    await eventually('every span of the varied run in ClickHouse', async () => (await runSpans(store.client, 'acme', run.id)).length === sent);
    await eventually('the processor to see them all', () => processor.engine.tree(run.treeId)?.runs.get(run.id)?.steps === 12);
    expect(() => run.guard()).not.toThrow();
    expect(await breakerEvents(store.client, 'acme', { runId: run.id })).toEqual([]);
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  });

  it('dead-letters garbage written straight to the spans topic while the good span beside it flows on', async () => {
    const producer = await log.producer();
    const good = span({ kind: 'llm_call', name: 'chat', tenantId: 'acme', runId: 'run-dlq', treeId: 'run-dlq' });
    await producer.send(topics.spans, [
      { key: 'run-dlq', value: Buffer.from('{"not":"avro"}') },
      { key: 'run-dlq', value: spanEventCodec.encode(good) },
      { key: 'some-other-tree', value: spanEventCodec.encode({ ...good, eventId: 'misrouted' }) },
      // Avro lets a long be negative; no count can be (ClickHouse's UInt64 would refuse the insert).
      { key: 'run-dlq', value: spanEventCodec.encode({ ...good, eventId: 'negative-tokens', inputTokens: -5 }) },
    ]);
    await producer.close();
    await eventually('the good span in ClickHouse', async () => (await runSpans(store.client, 'acme', 'run-dlq')).some((s) => s.event_id === good.eventId));

    const letters: unknown[] = [];
    const reader = log.groupConsumer({ groupId: `${prefix}-dlq-reader`, topics: [topics.deadLetter], fromBeginning: true, handleBatch: async (b) => { letters.push(...b.messages.map((m) => deadLetterSchema.parse(JSON.parse(m.value!.toString())))); } });
    await reader.start();
    await eventually('dead letters from processor and sink', () => letters.length >= 6);
    await reader.stop();
    expect(letters).toEqual(expect.arrayContaining([
      expect.objectContaining({ source: 'processor', code: 'NOT_SINGLE_OBJECT', key: 'run-dlq', payloadBase64: Buffer.from('{"not":"avro"}').toString('base64') }),
      expect.objectContaining({ source: 'sink', code: 'NOT_SINGLE_OBJECT' }),
      expect.objectContaining({ source: 'processor', code: 'KEY_MISMATCH', reason: expect.stringMatching(/not the span's treeId 'run-dlq'/) }),
      expect.objectContaining({ source: 'processor', code: 'INVALID_FIELD', reason: expect.stringMatching(/inputTokens -5/) }),
      expect.objectContaining({ source: 'sink', code: 'INVALID_FIELD', reason: expect.stringMatching(/inputTokens -5/) }),
    ]));
    expect(processor.stats().deadLettered).toBeGreaterThanOrEqual(2);
  });
});
