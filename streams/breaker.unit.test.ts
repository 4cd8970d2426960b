import { describe, expect, it } from 'vitest';
import { closedBreaker, IllegalBreakerTransition, move, type BreakerInput, type BreakerState } from './breaker.js';

describe('breaker transition table', () => {
  it.each<[BreakerState, BreakerInput, BreakerState]>([
    ['closed', 'trip', 'open'],
    ['open', 'reset', 'closed'],
    ['open', 'cooldown_elapsed', 'half_open'],
    ['half_open', 'probe_succeeded', 'closed'],
    ['half_open', 'probe_failed', 'open'],
  ])('%s --%s--> %s', (from, input, to) => {
    expect(move({ state: from, openedAtMs: 1 }, input, 5).state).toBe(to);
  });

  it.each<[BreakerState, BreakerInput]>([
    ['closed', 'cooldown_elapsed'],
    ['closed', 'probe_succeeded'],
    ['open', 'probe_failed'],
  ])('refuses %s --%s with a typed error', (from, input) => {
    expect(() => move({ state: from, openedAtMs: null }, input, 5)).toThrow(IllegalBreakerTransition);
  });

  it('records the event time it opened at, and keeps it while staying open', () => {
    const opened = move(closedBreaker(), 'trip', 1000);
    expect(opened).toEqual({ state: 'open', openedAtMs: 1000 });
    expect(move(opened, 'trip', 2000).openedAtMs).toBe(1000);
  });
});
