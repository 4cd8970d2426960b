import { describe, expect, it } from 'vitest';
import { foldDetector, lastObserved } from '../../test/fold.js';
import { span, toolCall } from '../../test/spans.js';
import { contextCeiling } from './context-ceiling.js';
import { iterationCap } from './iteration-cap.js';
import { scope } from './scope.js';
import { treeBudget } from './tree-budget.js';

const steps = (n: number) => Array.from({ length: n }, (_, i) => toolCall('t', `h${i}`, { status: 'ok', outputHash: `o${i}` }));

describe('iteration cap (the step being decided counts)', () => {
  it.each([
    { case: 'at the cap', events: steps(5), observed: null },
    { case: 'one above: the 6th step trips', events: steps(6), observed: 6 },
    { case: 'run_start and run_end are not steps', events: [span({ kind: 'run_start', name: 'r' }), ...steps(5), span({ kind: 'run_end', name: 'r' })], observed: null },
  ])('$case', ({ events, observed }) => {
    expect(lastObserved(foldDetector(iterationCap, events, { maxSteps: 5 }))).toBe(observed);
  });
});

describe('context ceiling', () => {
  const llm = (inputTokens: number) => span({ kind: 'llm_call', name: 'gpt-4o', inputTokens });
  it.each([
    { inputTokens: 8_000, observed: null },
    { inputTokens: 8_001, observed: 8_001 },
  ])('$inputTokens input tokens against 8000', ({ inputTokens, observed }) => {
    expect(lastObserved(foldDetector(contextCeiling, [llm(inputTokens)], { maxInputTokens: 8_000 }))).toBe(observed);
  });
});

describe('scope', () => {
  const params = scope.params.parse({ allowedTools: 'search, github.*', allowedSources: 'docs' });
  it.each([
    { event: toolCall('search', 'h'), trips: false },
    { event: toolCall('github.create_issue', 'h'), trips: false },
    { event: toolCall('shell.exec', 'h'), trips: true },
    { event: span({ kind: 'retrieval', name: 'docs' }), trips: false },
    { event: span({ kind: 'retrieval', name: 'hr-records' }), trips: true },
    { event: span({ kind: 'llm_call', name: 'anything' }), trips: false },
  ])('$event.kind $event.name', ({ event, trips }) => {
    expect(foldDetector(scope, [event], params).findings[0] !== null).toBe(trips);
  });

  it('says what was outside the allowed set', () => {
    expect(foldDetector(scope, [toolCall('shell.exec', 'h')], params).findings[0]?.message).toBe("tool 'shell.exec' is outside the agent's allowed tools (search, github.*)");
  });
});

describe('tree budget', () => {
  const spend = (micros: number, tokens = 0) => span({ kind: 'llm_call', name: 'm', costMicros: micros, inputTokens: tokens });
  it.each([
    { case: 'at the ceiling', events: [spend(600_000), spend(400_000)], observed: null },
    { case: 'one micro-dollar over', events: [spend(600_000), spend(400_001)], observed: 1_000_001 },
    { case: 'unpriced spans count nothing', events: [spend(1_000_000), span({ kind: 'llm_call', name: 'm' })], observed: null },
  ])('$case (micro-USD)', ({ events, observed }) => {
    expect(lastObserved(foldDetector(treeBudget, events, treeBudget.params.parse({ maxMicros: '1000000' })))).toBe(observed);
  });

  it('counts tokens when the budget is in tokens', () => {
    expect(lastObserved(foldDetector(treeBudget, [spend(0, 700), spend(0, 301)], treeBudget.params.parse({ maxTokens: '1000' })))).toBe(1_001);
  });

  it('refuses a budget with no ceiling, naming the field', () => {
    expect(treeBudget.params.safeParse({}).error?.issues[0]?.path).toEqual(['maxMicros']);
  });
});
