import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../schemas/index.js';
import { span, toolCall } from '../../test/spans.js';
import { loop, type LoopState } from './loop.js';

const { evolve, decide, initialState } = loop;

const policy = { threshold: 3, maxCycle: 3 };

/** given events, when folded, then the last event's decisions and the streak. */
function fold(events: SpanEvent[]): { state: LoopState; finding: ReturnType<typeof decide> } {
  let state = initialState();
  let finding: ReturnType<typeof decide> = null;
  for (const event of events) {
    state = evolve(state, event);
    finding = decide(state, event, policy);
  }
  return { state, finding };
}

const fail = () => toolCall('search', 'h1', { error: 'HTTP 503' });

describe('loop detector', () => {
  const a = () => toolCall('search', 'h1', { error: 'HTTP 503' });
  const b = () => toolCall('fetch', 'h2', { error: 'HTTP 503' });
  const c = () => toolCall('parse', 'h3', { error: 'bad input' });
  it.each([
    { case: 'one below the threshold', events: [fail(), fail()], observed: null },
    { case: 'exactly at the threshold', events: [fail(), fail(), fail()], observed: 3 },
    { case: 'past the threshold (still looping)', events: [fail(), fail(), fail(), fail()], observed: 4 },
    { case: 'varied arguments', events: [toolCall('search', 'h1'), toolCall('search', 'h2'), toolCall('search', 'h3')], observed: null },
    { case: 'a different tool in between', events: [fail(), fail(), toolCall('fetch', 'h1'), fail()], observed: null },
    { case: 'progress: same call, different results', events: [toolCall('poll', 'h', { status: 'ok', outputHash: 'o1' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o2' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o3' })], observed: null },
    { case: 'no progress: same call, same result', events: [toolCall('poll', 'h', { status: 'ok', outputHash: 'o' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o' }), toolCall('poll', 'h', { status: 'ok', outputHash: 'o' })], observed: 3 },
    { case: 'a different error is progress', events: [fail(), fail(), toolCall('search', 'h1', { error: 'HTTP 404' })], observed: null },
    { case: 'model calls in between do not break the streak', events: [fail(), span({ kind: 'llm_call', name: 'chat' }), fail(), span({ kind: 'llm_call', name: 'chat' }), fail()], observed: 3 },
    { case: 'a call without an argument hash ends the streak', events: [fail(), fail(), toolCall('search', null), fail()], observed: null },
    { case: 'cycle A,B repeated 3 times', events: [a(), b(), a(), b(), a(), b()], observed: 3 },
    { case: 'cycle A,B one short', events: [a(), b(), a(), b(), a()], observed: null },
    { case: 'cycle A,B,C repeated 3 times', events: [a(), b(), c(), a(), b(), c(), a(), b(), c()], observed: 3 },
    { case: 'A,B,A,C is no cycle', events: [a(), b(), a(), c(), a(), b(), a(), c()], observed: null },
  ])('$case', ({ events, observed }) => {
    expect(fold(events).finding?.observed ?? null).toBe(observed);
  });

  it('reports threshold, observed and what looped', () => {
    const { finding } = fold([fail(), fail(), fail()]);
    expect(finding).toEqual(expect.objectContaining({ threshold: 3, observed: 3, windowMs: null }));
    expect(finding?.message).toMatch(/'search' called 3 times in a row with the same arguments and the same error/);
    expect(fold([a(), b(), a(), b(), a(), b()]).finding?.message).toMatch(/cycle 'search' -> 'fetch' repeated 3 times/);
  });

  it('honours the policy: a higher threshold, identical calls only', () => {
    let state = initialState();
    for (const event of [fail(), fail(), fail()]) state = evolve(state, event);
    expect(decide(state, fail(), { threshold: 4, maxCycle: 3 })).toBeNull();
    let cycle = initialState();
    for (const event of [a(), b(), a(), b(), a(), b()]) cycle = evolve(cycle, event);
    expect(decide(cycle, b(), { threshold: 3, maxCycle: 1 })).toBeNull();
  });

  it('parses policy parameters from strings, with defaults and bounds', () => {
    expect(loop.params.parse({ threshold: '5' })).toEqual({ threshold: 5, maxCycle: 3 });
    expect(loop.params.safeParse({ threshold: '1' }).success).toBe(false);
  });
});
