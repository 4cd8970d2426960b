/**
 * Standing agent and tenant breakers, read from the breaker-state topic when a client starts
 * (here on the in-memory log; services/api/control.int.test.ts does it on real Kafka through
 * the API).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryLog } from '../log/memory.js';
import { topicNames, topicSpecs } from '../log/topics.js';
import type { ControlEvent } from '../schemas/index.js';
import { standingMessage } from '../services/control-messages.js';
import { haltOf } from '../test/client.js';
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

  it('starts without the topic (services not upgraded yet), saying what it cannot know', async () => {
    const log = createMemoryLog();
    await log.ensureTopics(topicSpecs(topics, 3).filter((spec) => spec.topic !== topics.breakerState));
    const lines: string[] = [];
    const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'a', log, topicPrefix: 'standing', logLine: (line) => lines.push(line) });
    try {
      expect(haltOf(await fusebox.startRun())).toBeUndefined();
      expect(lines.join('\n')).toMatch(/standing breakers not read \(standing\.breaker-state: .*\): agent and tenant halts older than controlLookbackMs are not known/);
    } finally {
      await fusebox.close();
    }
  });
});
