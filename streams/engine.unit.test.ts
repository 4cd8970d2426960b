import { describe, expect, it } from 'vitest';
import { toolCall } from '../test/spans.js';
import { createEngine } from './engine.js';

describe('breaker engine', () => {
  it('given a tripped run, when it keeps looping, then it trips once per episode', () => {
    const engine = createEngine();
    const outcomes = Array.from({ length: 6 }, () => engine.apply(toolCall('search', 'h')));
    expect(outcomes.map((o) => o.controls.length)).toEqual([0, 0, 1, 0, 0, 0]);
  });

  it('gives a replayed trigger the same trip id, so downstream sees a duplicate', () => {
    const events = [toolCall('search', 'h'), toolCall('search', 'h'), toolCall('search', 'h')];
    const lastOutcome = () => {
      const engine = createEngine();
      return events.map((event) => engine.apply(event)).at(-1)!;
    };
    const [first, second] = [lastOutcome(), lastOutcome()];
    expect(first.controls[0]!.eventId).toBe(second.controls[0]!.eventId);
  });

  it('restore folds without deciding: a rebuilt engine does not re-trip, and keeps counting', () => {
    const events = [toolCall('search', 'h'), toolCall('search', 'h')];
    const engine = createEngine();
    events.forEach((e) => engine.restore(e));
    expect(engine.tree('run-1')?.runs.get('run-1')?.loop.streak).toBe(2);
    expect(engine.apply(toolCall('search', 'h')).controls).toHaveLength(1);
  });

  it('keeps trees apart: a loop spread over two trees trips neither', () => {
    const engine = createEngine();
    const outcomes = [1, 2, 3].map((i) => engine.apply(toolCall('search', 'h', {}, { treeId: `tree-${i % 2}`, runId: `run-${i % 2}` })));
    expect(outcomes.flatMap((o) => o.controls)).toEqual([]);
  });

  it('counts a redelivered event once', () => {
    const engine = createEngine();
    const event = toolCall('search', 'h', {}, { costMicros: 700 });
    engine.apply(event);
    engine.apply(event);
    engine.apply(event);
    expect(engine.tree('run-1')?.costMicros).toBe(700);
    expect(engine.tree('run-1')?.runs.get('run-1')?.loop.streak).toBe(1);
  });
});
