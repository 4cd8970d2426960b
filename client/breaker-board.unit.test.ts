/**
 * The breaker board's duplicate filter is bounded: a replayed event is skipped while remembered;
 * one forgotten is applied again and leaves the board as it was.
 */
import { describe, expect, it } from 'vitest';
import type { ControlEvent } from '../schemas/index.js';
import { createBreakerBoard, createFirstSeen } from './breaker-board.js';

function event(eventId: string, action: ControlEvent['action'], target = 'r1'): ControlEvent {
  return { eventId, tenantId: 'acme', scope: 'run', target, treeId: 't1', action, reason: { detector: 'loop', threshold: 3, observed: 3, windowMs: null, message: 'loop' }, policyId: 'builtin:loop', policyVersion: 1, timeMs: 1 };
}
const run = { runId: 'r1', treeId: 't1', agentId: 'a', tenantId: 'acme' };

describe('createFirstSeen', () => {
  it('says true once per id among the last `capacity` ids, and never holds more', () => {
    const firstSeen = createFirstSeen(2);
    expect(['a', 'a', 'b', 'c', 'b', 'a'].map(firstSeen)).toEqual([true, false, true, true, false, true]);
    expect(firstSeen.size).toBe(2);
  });
});

describe('the breaker board', () => {
  it('skips a replayed event while it is remembered', () => {
    const board = createBreakerBoard({ rememberedEvents: 10 });
    expect(board.apply(event('trip-1', 'trip'))).toBe(true);
    expect(board.apply(event('trip-1', 'trip'))).toBe(false);
    expect(board.check(run)?.event.eventId).toBe('trip-1');
  });

  it('applies a duplicate again once forgotten, which changes nothing: the same trip of the same target', () => {
    const board = createBreakerBoard({ rememberedEvents: 2 });
    board.apply(event('trip-1', 'trip'));
    board.apply(event('trip-2', 'trip', 'r2'));
    board.apply(event('reset-2', 'reset', 'r2'));
    expect(board.apply(event('trip-1', 'trip'))).toBe(true); // forgotten
    expect(board.check(run)?.event.eventId).toBe('trip-1');
    expect(board.check({ ...run, runId: 'r2' })).toBeUndefined();
  });

  it('keeps an agent or tenant breaker as its latest event left it, whatever order the events arrive in', () => {
    const board = createBreakerBoard();
    const agentEvent = (eventId: string, action: ControlEvent['action'], timeMs: number): ControlEvent => ({ ...event(eventId, action, 'a'), scope: 'agent', treeId: null, timeMs });
    // The breaker-state topic gives the reset; an hour of control partitions then replays the trip before it.
    expect(board.apply(agentEvent('reset', 'reset', 2_000))).toBe(true);
    expect(board.apply(agentEvent('trip', 'trip', 1_000))).toBe(false);
    expect(board.check(run)).toBeUndefined();
    // Later events apply, as they come.
    expect(board.apply(agentEvent('kill', 'kill', 3_000))).toBe(true);
    expect(board.check(run)?.event.eventId).toBe('kill');
    // Run-scope events are not held to it (they come by one road, in order).
    expect(board.apply(event('run-trip', 'trip'))).toBe(true);
  });

  it('lets a breaker go on release (its tree forgotten), whatever its state, and only that one', () => {
    const board = createBreakerBoard();
    board.apply(event('trip-1', 'trip'));
    board.apply({ ...event('tree-trip', 'trip', 't1'), scope: 'tree' });
    board.release('run', 'r1');
    expect(board.check(run)?.scope).toBe('tree');
    board.release('tree', 't1');
    expect([board.check(run), board.size]).toEqual([undefined, 0]);
    board.release('tree', 'never-seen'); // a tombstone for a breaker this board never held
    expect(board.size).toBe(0);
  });

  it('retains only the open breakers it is told to keep (a reconnecting stream\'s list), and lists what is open', () => {
    const board = createBreakerBoard();
    board.apply(event('trip-1', 'trip'));
    board.apply(event('trip-2', 'trip', 'r2'));
    board.apply(event('local:3', 'trip', 'r3'));
    board.retain((breaker) => breaker.event.eventId === 'trip-2' || breaker.event.eventId.startsWith('local:'));
    expect([...board.openBreakers()].map((b) => b.event.eventId)).toEqual(['trip-2', 'local:3']);
    expect(board.check(run)).toBeUndefined();
  });

  it('with rememberedEvents 0 applies everything (its caller deduplicates)', () => {
    const board = createBreakerBoard({ rememberedEvents: 0 });
    expect([board.apply(event('e', 'trip')), board.apply(event('e', 'trip'))]).toEqual([true, true]);
  });
});
