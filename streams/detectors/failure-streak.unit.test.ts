import { describe, expect, it } from 'vitest';
import { foldDetector, lastObserved } from '../../test/fold.js';
import { span, toolCall } from '../../test/spans.js';
import { failureStreak } from './failure-streak.js';

const p = { threshold: 3 };
const err = (name = 'search', args = 'h1') => toolCall(name, args, { error: 'HTTP 503' });
const ok = (name = 'search') => toolCall(name, 'h9', { status: 'ok', outputHash: 'o' });

describe('failure streak', () => {
  it.each([
    { case: 'one below', events: [err(), err()], observed: null },
    { case: 'exactly at, whatever the arguments', events: [err('search', 'a'), err('search', 'b'), err('search', 'c')], observed: 3 },
    { case: 'reset by a success of the same operation', events: [err(), err(), ok(), err()], observed: null },
    { case: 'a success of another operation does not reset', events: [err(), err(), ok('fetch'), err()], observed: 3 },
    { case: 'operations counted apart', events: [err('a'), err('b'), err('a'), err('b')], observed: null },
    { case: 'model calls fail too', events: [1, 2, 3].map(() => span({ kind: 'llm_call', name: 'gpt-4o', status: 'error', error: '429' })), observed: 3 },
    { case: 'spawns are not operations', events: [err(), err(), span({ kind: 'spawn', name: 'child', status: 'error' })], observed: null },
  ])('$case', ({ events, observed }) => {
    expect(lastObserved(foldDetector(failureStreak, events, p))).toBe(observed);
  });

  it('names the operation and its last error', () => {
    expect(foldDetector(failureStreak, [err(), err(), err()], p).findings[2]?.message).toBe("tool call 'search' failed 3 times in a row (last: HTTP 503)");
  });

  it('forgets the oldest streak beyond 64 failing operations', () => {
    const events = Array.from({ length: 70 }, (_, i) => err(`op-${i}`));
    expect(Object.keys(foldDetector(failureStreak, events, p).state.streaks)).toHaveLength(64);
  });
});
