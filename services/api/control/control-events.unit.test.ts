import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../log/partitioner.js';
import { controlEventCodec } from '../../../schemas/index.js';
import { controlMessages, keysCoveringPartitions, standingBreaker, standingKey, standingMessage, standingPartition, standingTombstones } from '../../control-messages.js';
import { operatorControlEvent, type OperatorCommand } from './control-events.js';

const command = (target: OperatorCommand['target'], action: OperatorCommand['action'] = 'halt'): OperatorCommand => ({
  eventId: 'ev-1', tenantId: 'acme', target, action, message: 'halted by operator (key k1): runaway', timeMs: 1_700_000_000_000,
});

describe('operator control events', () => {
  it('a halt of a run is a kill of that run, in its tree, with the operator as the reason', () => {
    expect(operatorControlEvent(command({ scope: 'run', runId: 'run-7', treeId: 'tree-1' }))).toEqual({
      eventId: 'ev-1', tenantId: 'acme', scope: 'run', target: 'run-7', treeId: 'tree-1', action: 'kill',
      reason: { detector: 'operator', threshold: 0, observed: 0, windowMs: null, message: 'halted by operator (key k1): runaway' },
      policyId: null, policyVersion: null, timeMs: 1_700_000_000_000,
    });
  });

  it('a reset of a tree targets the tree; an agent has no tree', () => {
    expect(operatorControlEvent(command({ scope: 'tree', treeId: 'tree-1' }, 'reset'))).toMatchObject({ scope: 'tree', target: 'tree-1', treeId: 'tree-1', action: 'reset' });
    expect(operatorControlEvent(command({ scope: 'agent', agentId: 'researcher' }))).toMatchObject({ scope: 'agent', target: 'researcher', treeId: null, action: 'kill' });
  });

  it('run and tree events are one message keyed by the tree id, so they land beside the tree\'s spans', () => {
    for (const target of [{ scope: 'run' as const, runId: 'run-7', treeId: 'tree-1' }, { scope: 'tree' as const, treeId: 'tree-1' }]) {
      const event = operatorControlEvent(command(target));
      const messages = controlMessages(event, 6);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.key).toBe('tree-1');
      expect(controlEventCodec.decode(messages[0]!.value)).toEqual(event);
    }
  });

  it.each([1, 2, 3, 6, 12, 64])('an agent event is copied to each of %i partitions exactly once, all with one event id', (partitions) => {
    const event = operatorControlEvent(command({ scope: 'agent', agentId: 'researcher' }));
    const messages = controlMessages(event, partitions);
    expect(messages.map((m) => partitionForKey(m.key, partitions))).toEqual(Array.from({ length: partitions }, (_, p) => p));
    expect(new Set(messages.map((m) => controlEventCodec.decode(m.value).eventId))).toEqual(new Set(['ev-1']));
    expect(messages.every((m) => m.key.startsWith('agent:acme:researcher#'))).toBe(true);
  });

  it('finds the same covering keys every time (deterministic) and refuses a bad partition count', () => {
    expect(keysCoveringPartitions('agent:acme:x', 6)).toEqual(keysCoveringPartitions('agent:acme:x', 6));
    expect(() => keysCoveringPartitions('k', 0)).toThrow(RangeError);
  });

  it('a halt and its reset stand on breaker-state under one key per breaker, in the partition of the tenant, at every scope; warnings do not', () => {
    const halt = operatorControlEvent(command({ scope: 'agent', agentId: 'researcher' }));
    const reset = { ...halt, eventId: 'ev-2', action: 'reset' as const };
    for (const event of [halt, reset]) {
      const standing = standingMessage(event, 6)!;
      expect(standing).toMatchObject({ key: 'agent:acme:researcher', partition: standingPartition('acme', 6) });
      expect(controlEventCodec.decode(standing.value!)).toEqual(event);
    }
    expect(standingMessage({ ...halt, scope: 'tenant', target: 'acme' }, 6)?.key).toBe('tenant:acme:acme');
    expect(standingMessage({ ...halt, action: 'warn' }, 6)).toBeNull();
    const runHalt = operatorControlEvent(command({ scope: 'run', runId: 'run-1', treeId: 'tree-1' }));
    expect(standingMessage(runHalt, 6)).toMatchObject({ key: 'run:acme:run-1', partition: standingPartition('acme', 6) });
    expect(standingMessage({ ...runHalt, scope: 'tree', target: 'tree-1' }, 6)?.key).toBe('tree:acme:tree-1');
  });

  it('tombstones the run and tree breakers of a forgotten tree under their standing keys, and reads a standing key back for its tenant only', () => {
    const tombstones = standingTombstones('acme', ['tree:tree-1', 'run:run:with:colons'], 6);
    expect(tombstones).toEqual([
      { key: 'tree:acme:tree-1', value: null, partition: standingPartition('acme', 6) },
      { key: 'run:acme:run:with:colons', value: null, partition: standingPartition('acme', 6) },
    ]);
    expect(standingBreaker('run:acme:run:with:colons', 'acme')).toEqual({ scope: 'run', target: 'run:with:colons' });
    expect(standingBreaker(standingKey('tenant', 'acme', 'acme'), 'acme')).toEqual({ scope: 'tenant', target: 'acme' });
    expect(standingBreaker('tree:acme:tree-1', 'globex')).toBeNull();
    expect(standingBreaker('tree:acme:', 'acme')).toBeNull();
    expect(standingBreaker('bogus:acme:x', 'acme')).toBeNull();
  });
});
