/**
 * Standing breakers, read from the breaker-state topic when a client starts
 * (here on the in-memory log; services/api/control.int.test.ts does it on real Kafka through
 * the API).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryLog } from '../log/memory.js';
import { topicNames, topicSpecs } from '../log/topics.js';
import type { ControlEvent } from '../schemas/index.js';
import { controlMessages, standingMessage, standingPartition } from '../services/control-messages.js';
import { haltOf } from '../test/client.js';
import { eventually } from '../test/kafka.js';
import { createFusebox } from './index.js';

const topics = topicNames('standing');
const halt: ControlEvent = {
  eventId: 'halt-1', tenantId: 'acme', scope: 'agent', target: 'night-owl', treeId: null, action: 'kill',
  reason: { detector: 'operator', threshold: 0, observed: 0, windowMs: null, message: 'suspended yesterday' }, policyId: null, policyVersion: null, timeMs: 1_700_000_000_000,
};

describe('standing breakers at client start', () => {
  it('refuses the runs of an agent halted only on breaker-state, and no other agent', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const producer = await log.producer();
    await producer.send(topics.breakerState, [standingMessage(halt, 3)!]);
    const owl = await createFusebox({ tenantId: 'acme', agentId: 'night-owl', log, topicPrefix: 'standing', controlLookbackMs: 0 });
    const bird = await createFusebox({ tenantId: 'acme', agentId: 'early-bird', log, topicPrefix: 'standing', controlLookbackMs: 0 });
    const other = await createFusebox({ tenantId: 'globex', agentId: 'night-owl', log, topicPrefix: 'standing', controlLookbackMs: 0 });
    try {
      expect(haltOf(await owl.startRun())).toMatchObject({ scope: 'agent', action: 'kill', reason: { message: 'suspended yesterday' } });
      expect(haltOf(await bird.startRun())).toBeUndefined();
      expect(haltOf(await other.startRun())).toBeUndefined(); // another tenant's agent of the same name
    } finally {
      await Promise.all([owl.close(), bird.close(), other.close()]);
    }
  });

  it('refuses a run handed into a tree that tripped before the client started; lets it go once the tree is forgotten (tombstone)', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const producer = await log.producer();
    const tripped: ControlEvent = { ...halt, eventId: 'tree-trip', scope: 'tree', target: 'tree-old', treeId: 'tree-old', action: 'trip', reason: { detector: 'tree_budget', threshold: 1000, observed: 1200, windowMs: null, message: 'over budget' } };
    await producer.send(topics.breakerState, [standingMessage(tripped, 3)!]);
    const worker = await createFusebox({ tenantId: 'acme', agentId: 'worker', log, topicPrefix: 'standing', controlLookbackMs: 0 });
    try {
      const handoff = { runId: 'run-child', treeId: 'tree-old', parentRunId: 'run-parent', agentId: 'worker' };
      const joined = await worker.joinRun(handoff);
      expect(haltOf(joined)).toMatchObject({ scope: 'tree', action: 'trip', reason: { detector: 'tree_budget' } });
      expect(haltOf(await worker.joinRun({ ...handoff, runId: 'run-elsewhere', treeId: 'tree-new' }))).toBeUndefined();
      // The processor forgot the tree (a week idle) and tombstoned its breaker.
      await producer.send(topics.breakerState, [{ key: 'tree:acme:tree-old', value: null, partition: standingPartition('acme', 3) }]);
      await eventually('the tree breaker to be let go', () => haltOf(joined) === undefined);
    } finally {
      await worker.close();
    }
  });

  it('reads no control history once breaker-state is read: a trip there whose reset stands alone on breaker-state (compacted) does not reopen', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const producer = await log.producer();
    const trip: ControlEvent = { ...halt, eventId: 'tree-trip-1', scope: 'tree', target: 'tree-1', treeId: 'tree-1', action: 'trip', timeMs: Date.now() - 60_000 };
    const reset: ControlEvent = { ...trip, eventId: 'tree-reset-1', action: 'reset', reason: null, timeMs: Date.now() - 30_000 };
    await producer.send(topics.control, controlMessages(trip, 3));
    await producer.send(topics.breakerState, [standingMessage(reset, 3)!]);
    const worker = await createFusebox({ tenantId: 'acme', agentId: 'worker', log, topicPrefix: 'standing' });
    try {
      expect(haltOf(await worker.joinRun({ runId: 'run-2', treeId: 'tree-1', parentRunId: 'run-1', agentId: 'worker' }))).toBeUndefined();
    } finally {
      await worker.close();
    }
  });

  it('refuses a handoff that is not one, naming the field', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3));
    const worker = await createFusebox({ tenantId: 'acme', agentId: 'worker', log, topicPrefix: 'standing' });
    try {
      await expect(worker.joinRun({ runId: 'r', treeId: '', parentRunId: 'p', agentId: 'worker' })).rejects.toThrow(/^joinRun: handoff\.treeId: /);
      await expect(worker.joinRun(JSON.parse('{"runId":"r","treeId":"t","agentId":"worker"}'))).rejects.toThrow(/^joinRun: handoff\.parentRunId: /);
    } finally {
      await worker.close();
    }
  });

  it('starts without the topic (services not upgraded yet), saying what it cannot know', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3).filter((spec) => spec.topic !== topics.breakerState));
    const lines: string[] = [];
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', log, topicPrefix: 'standing', logLine: (line) => lines.push(line) });
    try {
      expect(haltOf(await fusebox.startRun())).toBeUndefined();
      expect(lines.join('\n')).toMatch(/standing breakers not read \(standing\.breaker-state: .*\): halts older than controlLookbackMs are not known/);
    } finally {
      await fusebox.close();
    }
  });
});
