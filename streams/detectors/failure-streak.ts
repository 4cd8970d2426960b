/**
 * Failure streak: N consecutive errors of the same operation (default 3), whatever the
 * arguments; a success of that operation resets its streak. Operations are counted apart, so
 * a flaky search does not hide behind a healthy model between its failures.
 */
import { z } from 'zod';
import { isOperation, type Detector } from './detector.js';

export interface FailureStreakParams {
  threshold: number;
}

export interface FailureStreakState {
  /** Consecutive errors per operation (`kind:name`); an operation with none is absent. */
  streaks: Record<string, number>;
}

/** Operations a run may be failing at once; beyond this the oldest streak is forgotten. */
const MAX_TRACKED = 64;

const operation = (kind: string, name: string) => `${kind}:${name}`;

function isEmpty(streaks: Record<string, number>): boolean {
  for (const _ in streaks) return false;
  return true;
}

export const failureStreak: Detector<FailureStreakState, FailureStreakParams> = {
  name: 'failure_streak',
  stateScope: 'run',
  params: z.object({ threshold: z.coerce.number().int().min(1).max(10_000).default(3) }),
  defaults: Object.freeze({ threshold: 3 }),
  initialState: () => ({ streaks: {} }),
  // In place (the caller owns the state): a success of an operation with no streak changes nothing.
  evolve(state, event) {
    if (!isOperation(event) || event.status === 'unset') return state;
    const streaks = state.streaks;
    if (event.status === 'ok' && isEmpty(streaks)) return state; // the common case: nothing failing
    const op = operation(event.kind, event.name);
    const streak = streaks[op];
    if (event.status === 'ok') {
      if (streak !== undefined) delete streaks[op];
      return state;
    }
    if (streak !== undefined) delete streaks[op]; // re-inserted last: key order is recency order
    streaks[op] = (streak ?? 0) + 1;
    if (streak === undefined) {
      let oldest: string | undefined;
      let count = 0;
      for (const key in streaks) if (count++ === 0) oldest = key;
      if (count > MAX_TRACKED) delete streaks[oldest!];
    }
    return state;
  },
  decide(state, event, p) {
    if (!isOperation(event) || event.status !== 'error') return null;
    const streak = state.streaks[operation(event.kind, event.name)] ?? 0;
    if (streak < p.threshold) return null;
    return { threshold: p.threshold, observed: streak, windowMs: null, message: `${event.kind.replace('_', ' ')} '${event.name}' failed ${streak} times in a row (last: ${event.error ?? 'error'})` };
  },
};
