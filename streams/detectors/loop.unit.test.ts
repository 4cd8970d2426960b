import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../schemas/index.js';
import { span, toolCall } from '../../test/spans.js';
import { decide, evolve, initialState, type LoopState } from './loop.js';

const policy = { threshold: 3 };

/** given events, when folded, then the last event's decisions and the streak. */
function fold(events: SpanEvent[]): { state: LoopState; decisions: ReturnType<typeof decide> } {
  let state = initialState();
  let decisions: ReturnType<typeof decide> = [];
  for (const event of events) {
    state = evolve(state, event);
    decisions = decide(state, event, policy);
  }
  return { state, decisions };
}

const fail = () => toolCall('search', 'h1', { error: 'HTTP 503' });

describe('loop detector', () => {
  it.each([
    { case: 'one below the threshold', events: [fail(), fail()], streak: 2, trips: false },
    { case: 'exactly at the threshold', events: [fail(), fail(), fail()], streak: 3, trips: true },
    { case: 'past the threshold (still looping)', events: [fail(), fail(), fail(), fail()], streak: 4, trips: true },
    { case: 'varied arguments', events: [toolCall('search', 'h1'), toolCall('search', 'h2'), toolCall('search', 'h3')], streak: 1, trips: false },
    { case: 'a different tool in between', events: [fail(), fail(), toolCall('fetch', 'h1'), fail()], streak: 1, trips: false },
    { case: 'progress: same call, different results', events: [toolCall('poll', 'h', { status: 'ok', outputHash: 'o1' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o2' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o3' })], streak: 1, trips: false },
    { case: 'no progress: same call, same result', events: [toolCall('poll', 'h', { status: 'ok', outputHash: 'o' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o' })], streak: 3, trips: true },
    { case: 'a different error is progress', events: [fail(), fail(), toolCall('search', 'h1', { error: 'HTTP 404' })], streak: 1, trips: false },
    { case: 'model calls in between do not break the streak', events: [fail(), span({ kind: 'llm_call', name: 'chat' }), fail(), span({ kind: 'llm_call', name: 'chat' }), fail()], streak: 3, trips: true },
    { case: 'a call without an argument hash ends the streak', events: [fail(), fail(), toolCall('search', null), fail()], streak: 1, trips: false },
  ])('$case', ({ events, streak, trips }) => {
    const { state, decisions } = fold(events);
    expect(state.streak).toBe(streak);
    expect(decisions.length > 0).toBe(trips);
  });

  it('reports threshold, observed and the run scope', () => {
    const { decisions } = fold([fail(), fail(), fail()]);
    expect(decisions).toEqual([expect.objectContaining({ detector: 'loop', scope: 'run', threshold: 3, observed: 3, windowMs: null })]);
    expect(decisions[0]?.message).toMatch(/'search' called 3 times/);
  });

  it('honours a higher threshold from the policy', () => {
    let state = initialState();
    for (const event of [fail(), fail(), fail()]) state = evolve(state, event);
    expect(decide(state, fail(), { threshold: 4 })).toEqual([]);
  });
});
