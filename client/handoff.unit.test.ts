/**
 * A child run handed to another process: `run.handoff()` records the spawn edge and returns
 * plain data; `fusebox.joinRun()` in another client opens the child in the same tree (here two
 * clients on one in-memory log; services/api/control.int.test.ts does it on real Kafka).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryLog } from '../log/memory.js';
import type { EventLog } from '../log/port.js';
import { topicNames, topicSpecs } from '../log/topics.js';
import { spanEventCodec, type ControlEvent, type SpanEvent } from '../schemas/index.js';
import { standingMessage } from '../services/control-messages.js';
import { createFusebox, RunHalted } from './index.js';

const topics = topicNames('handoff');

async function spansOn(log: EventLog): Promise<SpanEvent[]> {
  const spans: SpanEvent[] = [];
  const reader = log.reader(topics.spans, (message) => { spans.push(spanEventCodec.decode(message.value!)); });
  await reader.start();
  for (let p = 0; p < (await log.partitionCount(topics.spans)); p++) await reader.follow(p, 'beginning');
  await reader.stop();
  return spans;
}

describe('run.handoff() and fusebox.joinRun()', () => {
  it('records the spawn edge in the parent and opens the child in the same tree elsewhere, as plain data between them', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const orchestrator = await createFusebox({ tenantId: 'acme', agentId: 'planner', log, topicPrefix: 'handoff' });
    const worker = await createFusebox({ tenantId: 'acme', agentId: 'worker', log, topicPrefix: 'handoff' });
    const parent = await orchestrator.startRun({ userId: 'u-1', sessionId: 's-1' });
    const handoff = parent.handoff({ agentId: 'worker', name: 'summarize' });
    expect(handoff).toEqual({ runId: expect.stringMatching(/^run-/), treeId: parent.treeId, parentRunId: parent.id, agentId: 'worker', userId: 'u-1', sessionId: 's-1', name: 'summarize' });
    const child = await worker.joinRun(JSON.parse(JSON.stringify(handoff)));
    expect([child.id, child.treeId, child.parentRunId]).toEqual([handoff.runId, parent.treeId, parent.id]);
    await Promise.all([orchestrator.close(), worker.close()]);

    const spans = await spansOn(log);
    const edge = spans.find((s) => s.kind === 'spawn')!;
    expect(edge).toMatchObject({ runId: parent.id, treeId: parent.treeId, name: 'summarize', edge: { kind: 'spawn', targetRunId: handoff.runId, targetTreeId: parent.treeId } });
    const start = spans.find((s) => s.kind === 'run_start' && s.runId === handoff.runId)!;
    expect(start).toMatchObject({ agentId: 'worker', treeId: parent.treeId, parentRunId: parent.id, userId: 'u-1', sessionId: 's-1', name: 'summarize' });
  });

  it('refuses to hand off from a halted run, like a spawn', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const producer = await log.producer();
    const halt: ControlEvent = { eventId: 'halt-planner', tenantId: 'acme', scope: 'agent', target: 'planner', treeId: null, action: 'kill', reason: null, policyId: null, policyVersion: null, timeMs: 1 };
    await producer.send(topics.breakerState, [standingMessage(halt, 3)!]);
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'planner', log, topicPrefix: 'handoff' });
    try {
      const parent = await fusebox.startRun();
      expect(() => parent.handoff()).toThrow(RunHalted);
      await expect(parent.spawn()).rejects.toThrow(RunHalted);
    } finally {
      await fusebox.close();
    }
    expect((await spansOn(log)).filter((s) => s.kind === 'spawn')).toEqual([]);
  });
});
