import { describe, expect, it } from 'vitest';
import { createMemoryLog } from '../log/memory.js';
import { topicNames, topicSpecs } from '../log/topics.js';
import { controlEventCodec, spanEventCodec } from '../schemas/index.js';
import { createFusebox, RejectedEvent, RunHalted, TransportUnavailable } from './index.js';

describe('agent client', () => {
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
