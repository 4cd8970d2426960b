import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryLog } from '../log/memory.js';
import { topicNames, topicSpecs } from '../log/topics.js';
import { controlEventCodec, policyEventCodec, policyEventSchema, spanEventCodec, type PolicyEvent } from '../schemas/index.js';
import { brokers, eventually, freshKafka, readAll } from '../test/kafka.js';
import { refusal } from '../test/client.js';
import { createFusebox, RejectedEvent, RunHalted, TransportUnavailable, type Fusebox, type NextAction } from './index.js';
import { ProducerThread } from './producer-thread.js';

/** Runs the fixture agent under tsx, as `npx tsx` runs examples; resolves with its exit and output, or null if it did not end in time. */
function agentProcess(env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string } | null> {
  const entry = fileURLToPath(new URL('./__fixtures__/short-lived-agent.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, KAFKA_BROKERS: brokers().join(','), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-5_000); });
  return new Promise((done) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); done(null); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); done({ code, stdout, stderr }); });
  });
}

describe('agent client', () => {
  it('produces from a thread of its own that ends with close(), and never keeps the process alive by itself', async () => {
    const { log, topics, prefix } = await freshKafka(3);
    try {
      // Loaded through tsx in a process of its own: spans all sent, and the process ends by itself.
      const closing = await agentProcess({ AGENT_MODE: 'close', AGENT_PREFIX: prefix, SPANS: '450' }, 60_000);
      expect(closing, 'the agent process did not end after close()').not.toBeNull();
      expect(closing!.code, closing!.stderr).toBe(0);
      const result = JSON.parse(closing!.stdout.trim().split('\n').pop()!) as { unsent: number; sent: number; dropped: number; treeId: string };
      expect(result).toMatchObject({ unsent: 0, dropped: 0, sent: 452 });
      // The thread alone, never closed: the process still ends once its batch is sent.
      const forgetting = await agentProcess({ AGENT_MODE: 'thread', AGENT_PREFIX: prefix }, 30_000);
      expect(forgetting, 'the producer thread kept the process alive').not.toBeNull();
      expect(forgetting!.code, forgetting!.stderr).toBe(0);
      // A whole client never closed, its control and policies readers running on the thread: the process ends too.
      const forgotten = await agentProcess({ AGENT_MODE: 'forget', AGENT_PREFIX: prefix }, 30_000);
      expect(forgotten, 'the client\'s thread (its readers) kept the process alive').not.toBeNull();
      expect(forgotten!.code, forgotten!.stderr).toBe(0);

      const spans = (await readAll(log, topics.spans)).map((m) => ({ key: m.key, span: spanEventCodec.decode(m.value!) }));
      expect(spans.filter((s) => s.span.treeId === result.treeId)).toHaveLength(452);
      expect(spans.every((s) => s.key === s.span.treeId)).toBe(true);
      expect(spans.filter((s) => s.span.eventId === 'forgotten-1')).toHaveLength(1);
    } finally {
      await log.close();
    }
  }, 120_000);

  it('hears its trips, its policy changes and the control plane\'s heartbeats through its Kafka thread', async () => {
    const { log, topics, prefix } = await freshKafka(3);
    const readers = vi.spyOn(ProducerThread.prototype, 'reader');
    const producer = await log.producer();
    const publish = (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'detector' | 'params'>) => {
      const policy = policyEventSchema.parse({ tenantId: 'acme', version: 1, selector: { agentId: 'a' }, disposition: 'block', changedBy: 'sre@acme', changedAtMs: Date.now(), ...over });
      return producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
    };
    const shell: NextAction = { kind: 'tool_call', name: 'shell' };
    let fusebox: Fusebox | undefined;
    try {
      await publish({ policyId: 'scope-a', detector: 'scope', params: { allowedTools: 'web_search' } });
      // Failing closed on a short bound: only heartbeats crossing from the thread keep guard() answering.
      fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', brokers: brokers(), topicPrefix: prefix, staleAfterMs: 1_500, whenStale: 'closed' });
      expect(readers.mock.calls.map(([topic]) => topic).sort()).toEqual([topics.control, topics.controlEarly, topics.policies, topics.breakerState].sort());
      const run = await fusebox.startRun();

      // Given at start: the policy published before it; then a change published while it runs.
      expect(refusal(run, shell)).toMatchObject({ origin: 'local', policy: { id: 'scope-a', version: 1 } });
      await publish({ policyId: 'scope-a', version: 2, detector: 'scope', params: { allowedTools: 'web_search, shell' } });
      await eventually('the policy change to reach the client', () => refusal(run, shell) === null, 30_000);

      // startRun resolved once the thread followed the tree's partition: a trip sent now is heard.
      const control = (action: 'trip' | 'reset') => producer.send(topics.control, [{ key: run.treeId, value: controlEventCodec.encode({ eventId: `${action}-${run.treeId}`, tenantId: 'acme', scope: 'tree', target: run.treeId, treeId: run.treeId, action, reason: null, policyId: null, policyVersion: null, timeMs: Date.now() }) }]);
      await control('trip');
      const tripped = await eventually('the trip to reach guard()', () => refusal(run) ?? undefined, 30_000);
      expect(tripped).toMatchObject({ origin: 'control', scope: 'tree', action: 'trip' });
      await control('reset');
      await eventually('the reset to reach guard()', () => refusal(run) === null, 30_000);

      await new Promise((ok) => setTimeout(ok, 2_500));
      expect(fusebox.stats().stale).toBe(false);
      expect(refusal(run)).toBeNull();
    } finally {
      readers.mockRestore();
      await fusebox?.close();
      await producer.close();
      await log.close();
    }
  }, 120_000);

  it('runs its Kafka thread at a lower priority than the agent\'s (Linux: nice 10 for that thread alone)', async () => {
    const { log, prefix } = await freshKafka(1);
    const niceOf = () => new Map(readdirSync('/proc/self/task').map((tid) => [tid, Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16])]));
    const before = niceOf();
    const thread = new ProducerThread({ brokers: brokers(), clientId: 'nice-test', topic: topicNames(prefix).spans });
    try {
      await thread.start();
      const added = [...niceOf()].filter(([tid]) => !before.has(tid));
      expect(added.filter(([, nice]) => nice === 10)).toHaveLength(1);
      expect(niceOf().get(String(process.pid))).toBe(0); // the agent's own thread keeps its priority
    } finally {
      await thread.close();
      await log.close();
    }
  });

  it('fails fast with TransportUnavailable (retriable) when no broker answers', async () => {
    const error = await createFusebox({ tenantId: 't', agentId: 'a', brokers: ['127.0.0.1:1'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportUnavailable);
    expect((error as TransportUnavailable).retriable).toBe(true);
    expect((error as Error).message).toMatch(/could not connect to Kafka at 127\.0\.0\.1:1/);
  }, 60_000);

  it('halts a run on a tree trip and by hand (kill), ignores other tenants, and resumes on reset', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topicNames(), 4));
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', log });
    const run = await fusebox.startRun();
    const producer = await log.producer();
    const control = (over: object) => producer.send('fusebox.control', [{ key: run.treeId, value: controlEventCodec.encode({ eventId: String(Math.random()), tenantId: 'acme', scope: 'tree', target: run.treeId, treeId: run.treeId, action: 'trip', reason: null, policyId: null, policyVersion: null, timeMs: 1, ...over }) }]);

    await control({ tenantId: 'someone-else' });
    expect(() => run.guard()).not.toThrow();
    await control({ action: 'kill' });
    const halted = (() => { try { run.guard(); } catch (e) { return e; } })() as RunHalted;
    expect(halted).toBeInstanceOf(RunHalted);
    expect([halted.scope, halted.action]).toEqual(['tree', 'kill']);
    await expect(run.tool('x', {}, () => 1)).rejects.toBeInstanceOf(RunHalted);
    await control({ action: 'reset' });
    expect(await run.tool('x', {}, () => 1)).toBe(1);
    await fusebox.close();
  });

  it('rejects a span that does not fit the schema, naming the field', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topicNames(), 1));
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', log });
    const run = await fusebox.startRun();
    expect(() => run.record({ kind: 'custom', name: 'x', costMicros: -5 })).toThrow(RejectedEvent);
    expect(() => run.record({ kind: 'custom', name: 'x', costMicros: -5 })).toThrow(/costMicros/);
    await fusebox.close();
  });

  it('tags every span with the fleet tags of the agent, for tag-scoped policies', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topicNames(), 1));
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', log, tags: ['prod', 'eu'] });
    const run = await fusebox.startRun();
    run.record({ kind: 'custom', name: 'x', attributes: { mine: '1' } });
    await fusebox.close();
    const seen: Record<string, string>[] = [];
    const reader = log.reader('fusebox.spans', (m) => seen.push(spanEventCodec.decode(m.value!).attributes));
    await reader.start();
    await reader.follow(0, 'beginning');
    expect(seen).toEqual([{ 'fusebox.agent.tags': 'prod,eu' }, { 'fusebox.agent.tags': 'prod,eu', mine: '1' }]);
  });
});
