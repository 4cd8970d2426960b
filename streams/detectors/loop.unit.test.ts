import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../schemas/index.js';
import { span, toolCall } from '../../test/spans.js';
import { fingerprintOfSignature, loop, reviveLoopState, signature, signatureFingerprint, type LoopState } from './loop.js';

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

  it.each([
    { case: 'an error', event: toolCall('search', 'h1', { error: 'HTTP 503' }) },
    { case: 'an error without text', event: toolCall('search', 'h1', { error: '' }) },
    { case: 'a result hash', event: toolCall('search', 'h1', { status: 'ok', outputHash: 'o1' }) },
    { case: 'no result', event: toolCall('search', 'h1', { status: 'ok' }) },
    { case: 'non-ASCII names', event: toolCall('recherche-é', 'h1', { error: 'délai dépassé' }) },
  ])('the fingerprint is that of the signature text: $case', ({ event }) => {
    expect(signatureFingerprint(event)).toBe(fingerprintOfSignature(signature(event)!));
    expect(Number.isSafeInteger(signatureFingerprint(event))).toBe(true);
  });

  it('tells apart what the signature text tells apart (tool, arguments, status, outcome)', () => {
    const prints = [
      toolCall('search', 'h1', { error: 'x' }), toolCall('search', 'h2', { error: 'x' }), toolCall('fetch', 'h1', { error: 'x' }),
      toolCall('search', 'h1', { error: 'y' }), toolCall('search', 'h1', { status: 'ok' }), toolCall('search', 'h1', { status: 'ok', outputHash: 'none' }),
      toolCall('search', 'h1', { status: 'error', error: 'x', outputHash: 'o' }), toolCall('search', 'h1', { status: 'ok', outputHash: 'o' }),
    ].map(signatureFingerprint);
    expect(new Set(prints).size).toBe(prints.length - 1); // ok with no output hash is outcome 'none', as the text is
    expect(signatureFingerprint(toolCall('search', 'h1', { status: 'ok' }))).toBe(signatureFingerprint(toolCall('search', 'h1', { status: 'ok', outputHash: 'none' })));
  });

  it('keeps a bounded history of numbers, updated in place', () => {
    let state = initialState();
    const first = state;
    for (let i = 0; i < 500; i++) state = evolve(state, toolCall('search', `h${i}`));
    expect(state).toBe(first);
    expect(state.history).toHaveLength(80);
    expect(state.history.every((h) => typeof h === 'number')).toBe(true);
    expect(state.tools).toEqual(['search', 'search', 'search', 'search']);
    expect(JSON.stringify(state).length).toBeLessThan(80 * 18 + 100);
  });

  it('revives the earlier state (signature texts) exactly: the pattern carries on', () => {
    const legacy = { history: [a(), b(), a(), b(), a()].map((e) => signature(e)!) };
    const revived = reviveLoopState(JSON.parse(JSON.stringify(legacy)));
    expect(revived.tools).toEqual(['search', 'fetch', 'search', 'fetch', 'search'].slice(-4));
    const next = b();
    expect(decide(evolve(revived, next), next, policy)).toEqual(expect.objectContaining({ observed: 3, message: expect.stringMatching(/cycle 'search' -> 'fetch'/) }));
    expect(reviveLoopState({ history: [] })).toEqual({ history: [], tools: [] });
    const current = fold([a(), b()]).state;
    expect(reviveLoopState(JSON.parse(JSON.stringify(current)))).toEqual(current);
  });

  it.each([null, {}, { history: 'x' }, { history: [1, 'x'] }, { history: [1], tools: [2] }])('refuses a loop state of no known shape: %j', (raw) => {
    expect(() => reviveLoopState(raw)).toThrow(/loop state/);
  });
});
