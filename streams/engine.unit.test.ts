import { describe, expect, it } from 'vitest';
import { policyEventSchema, type ControlEvent, type PolicyEvent } from '../schemas/index.js';
import { span, toolCall } from '../test/spans.js';
import { createEngine, INLINE_RUNS } from './engine.js';
import { createPolicyBook } from './policies.js';

const policy = (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'detector'>): PolicyEvent =>
  policyEventSchema.parse({ version: 1, tenantId: 'tenant-a', selector: {}, disposition: 'block', changedBy: 'ops', changedAtMs: 1, ...over });

const control = (over: Partial<ControlEvent>): ControlEvent => ({ eventId: `c-${Math.random()}`, tenantId: 'tenant-a', scope: 'run', target: 'run-1', treeId: 'run-1', action: 'reset', reason: null, policyId: null, policyVersion: null, timeMs: 1, ...over });

const loopCall = () => toolCall('search', 'h');
/** More runs than a tree's record holds inline. */
const runIds = Array.from({ length: INLINE_RUNS + 1 }, (_, i) => `r${i}`);

describe('breaker engine', () => {
  it('given a tripped run, when it keeps looping, then it trips once per episode', () => {
    const engine = createEngine();
    const outcomes = Array.from({ length: 6 }, () => engine.apply(loopCall()));
    expect(outcomes.map((o) => o.controls.length)).toEqual([0, 0, 1, 0, 0, 0]);
    expect(outcomes[2]!.controls[0]).toMatchObject({ action: 'trip', scope: 'run', target: 'run-1', reason: { detector: 'loop', threshold: 3, observed: 3 } });
  });

  it('gives a decision the same id whichever event crossed the line (replays, reordering)', () => {
    const idOf = (events: ReturnType<typeof loopCall>[]) => {
      const engine = createEngine();
      return events.map((e) => engine.apply(e)).flatMap((o) => o.controls)[0]!.eventId;
    };
    expect(idOf([loopCall(), loopCall(), loopCall()])).toBe(idOf([loopCall(), loopCall(), loopCall(), loopCall()].slice(1)));
  });

  it('restore folds without deciding: a rebuilt engine does not re-trip, and keeps counting', () => {
    const engine = createEngine();
    [loopCall(), loopCall()].forEach((e) => engine.restore(e));
    expect(engine.apply(loopCall()).controls).toHaveLength(1);
  });

  it('keeps trees apart: a loop spread over two trees trips neither', () => {
    const engine = createEngine();
    const outcomes = [1, 2, 3].map((i) => engine.apply(toolCall('search', 'h', {}, { treeId: `tree-${i % 2}`, runId: `run-${i % 2}` })));
    expect(outcomes.flatMap((o) => o.controls)).toEqual([]);
  });

  it("never lets one tenant spend, loop or steer in another tenant's tree, even with its id", () => {
    const engine = createEngine();
    engine.apply(toolCall('search', 'h', {}, { costMicros: 500 }));
    const intruder = { tenantId: 'tenant-b', costMicros: 9_000 };
    const outcomes = [1, 2, 3].map(() => engine.apply(toolCall('search', 'h', {}, intruder)));
    expect(outcomes.every((o) => o.foreign === true && o.controls.length === 0)).toBe(true);
    engine.restore(toolCall('search', 'h', {}, intruder));
    expect(engine.control(control({ tenantId: 'tenant-b', action: 'kill' }))).toBe(false);
    expect(engine.tree('run-1')).toMatchObject({ tenantId: 'tenant-a', costMicros: 500 });
    expect(engine.tree('run-1')?.runs.get('run-1')?.steps).toBe(1);
    expect(engine.apply(toolCall('search', 'h', {}, { costMicros: 1 })).foreign).toBeUndefined(); // its own tenant still counts
  });

  it('counts a redelivered event once', () => {
    const engine = createEngine();
    const event = toolCall('search', 'h', {}, { costMicros: 700 });
    expect([engine.apply(event), engine.apply(event), engine.apply(event)].flatMap((o) => o.controls)).toEqual([]);
    expect(engine.tree('run-1')?.costMicros).toBe(700);
  });

  it('reset starts a new episode: patterns are forgiven, spend is not', () => {
    const engine = createEngine();
    const first = [loopCall(), loopCall(), loopCall()].flatMap((e) => engine.apply(e).controls);
    expect(engine.control(control({ action: 'reset' }))).toBe(true);
    expect(engine.apply(loopCall()).controls).toEqual([]); // the streak starts over
    const second = [loopCall(), loopCall()].flatMap((e) => engine.apply(e).controls);
    expect(second).toHaveLength(1);
    expect(second[0]!.eventId).not.toBe(first[0]!.eventId);
    expect(engine.tree('run-1')?.runs.get('run-1')?.steps).toBe(6);
  });

  it('kill opens the breaker by hand: nothing more trips in that episode', () => {
    const engine = createEngine();
    expect(engine.control(control({ action: 'kill', scope: 'tree', target: 'run-1' }))).toBe(true);
    expect([loopCall(), loopCall(), loopCall()].flatMap((e) => engine.apply(e).controls)).toEqual([]);
    expect(engine.control(control({ action: 'kill', tenantId: 'tenant-b', scope: 'tree', target: 'run-1' }))).toBe(false);
  });

  it('a warn disposition warns once per episode and halts nothing', () => {
    const book = createPolicyBook();
    book.apply('p-warn', policy({ policyId: 'p-warn', detector: 'loop', disposition: 'warn' }));
    const engine = createEngine({ policies: book });
    const controls = Array.from({ length: 5 }, () => engine.apply(loopCall())).flatMap((o) => o.controls);
    // The loop only warns; the same failing calls also make a failure streak, which blocks by default.
    expect(controls.map((c) => [c.action, c.reason?.detector, c.policyId])).toEqual([['warn', 'loop', 'p-warn'], ['trip', 'failure_streak', 'builtin:failure_streak']]);
  });

  it('applies a policy change to the very next event', () => {
    const book = createPolicyBook();
    const engine = createEngine({ policies: book });
    engine.apply(span({ kind: 'llm_call', name: 'm', costMicros: 600_000 }));
    book.apply('budget', policy({ policyId: 'budget', detector: 'tree_budget', params: { maxMicros: '1000000' } }));
    const outcome = engine.apply(span({ kind: 'llm_call', name: 'm', costMicros: 500_000 }));
    expect(outcome.controls).toEqual([expect.objectContaining({ action: 'trip', scope: 'tree', target: 'run-1', policyId: 'budget', policyVersion: 1, reason: expect.objectContaining({ detector: 'tree_budget', observed: 1_100_000 }) })]);
    expect(outcome.audits[0]).toMatchObject({ treeCostMicros: 1_100_000, stepsElapsed: 2 });
  });

  it('trips the tree on its budget even when the run already tripped on a loop', () => {
    const book = createPolicyBook();
    book.apply('budget', policy({ policyId: 'budget', detector: 'tree_budget', params: { maxMicros: '100' } }));
    const engine = createEngine({ policies: book });
    const controls = [loopCall(), loopCall(), toolCall('search', 'h', {}, { costMicros: 101 })].flatMap((e) => engine.apply(e).controls);
    expect(controls.map((c) => `${c.reason?.detector}:${c.scope}`)).toEqual(['loop:run', 'tree_budget:tree']);
  });
});

describe('engine snapshots', () => {
  it('a tree restored from its snapshot decides exactly as the original would have', () => {
    const original = createEngine();
    [loopCall(), loopCall()].forEach((e) => original.apply(e));
    const restored = createEngine();
    restored.load(JSON.parse(JSON.stringify(original.snapshot('run-1'))));
    const next = loopCall();
    expect(restored.apply(next)).toEqual(original.apply(next));
    expect(restored.snapshot('run-1')).toEqual(original.snapshot('run-1'));
  });

  it('snapshots are copies, and forget drops state', () => {
    const engine = createEngine();
    engine.apply(loopCall());
    const before = engine.snapshot('run-1')!;
    engine.apply(loopCall());
    expect(before.runs[0]![1].steps).toBe(1);
    engine.forget((id) => id === 'run-1');
    expect(engine.treeIds()).toEqual([]);
  });
});

describe('engine changes (what the changelog writes)', () => {
  it('a small tree is one record: its runs go with the tree', () => {
    const engine = createEngine();
    engine.apply(span({ kind: 'run_start', name: 'a', runId: 'a', treeId: 't' }));
    engine.apply(span({ kind: 'run_start', name: 'b', runId: 'b', treeId: 't' }));
    expect(engine.changes('t')).toMatchObject({ tree: { splitRuns: false }, runs: [] });
  });

  it('a large tree writes all its runs apart once, then only the runs an event changed, once', () => {
    const engine = createEngine();
    for (const runId of runIds.slice(0, INLINE_RUNS)) engine.apply(span({ kind: 'run_start', name: 'a', runId, treeId: 't' }));
    expect(engine.changes('t').runs).toEqual([]);
    engine.apply(span({ kind: 'run_start', name: 'a', runId: runIds.at(-1)!, treeId: 't' }));
    expect(engine.changes('t').runs.map(([id]) => id)).toEqual(runIds);
    engine.apply(toolCall('search', 'h', {}, { runId: 'r3', treeId: 't' }));
    const changes = engine.changes('t');
    expect(changes.tree).toMatchObject({ treeId: 't', splitRuns: true });
    expect(changes.runs.map(([id]) => id)).toEqual(['r3']);
    expect(engine.changes('t').runs).toEqual([]);
  });

  it('a tree reset changes every run (their patterns are forgiven)', () => {
    const engine = createEngine();
    [loopCall(), loopCall(), loopCall()].forEach((e) => engine.apply(e));
    for (const runId of runIds) engine.apply(span({ kind: 'run_start', name: 'x', runId }));
    engine.changes('run-1');
    engine.control(control({ scope: 'tree', action: 'kill' }));
    expect(engine.changes('run-1').runs).toEqual([]); // a kill changes only the tree's breakers
    engine.control(control({ scope: 'tree', action: 'reset' }));
    expect(engine.changes('run-1').runs.map(([id]) => id).sort()).toEqual(['run-1', ...runIds].sort());
  });
});

describe('engine eviction (event time)', () => {
  const HOUR = 3_600_000;
  const t0 = 1_700_000_000_000;
  const at = (ms: number, over: Parameters<typeof span>[0]) => span({ startTimeMs: ms - 100, endTimeMs: ms, ...over });
  const finished = (engine: ReturnType<typeof createEngine>, treeId: string, cost = 0) => {
    engine.apply(at(t0, { kind: 'run_start', name: 'task', treeId, runId: treeId }));
    engine.apply(at(t0 + 1000, { kind: 'llm_call', name: 'chat', treeId, runId: treeId, costMicros: cost }));
    engine.apply(at(t0 + 2000, { kind: 'run_end', name: 'task', treeId, runId: treeId }));
  };

  it('evicts a finished tree only once idle longer than the retention, measured from its newest event', () => {
    const engine = createEngine({ retentionMs: HOUR });
    finished(engine, 't');
    expect(engine.evictIdle(t0 + 2000 + HOUR)).toEqual([]); // exactly at the retention: kept
    expect(engine.evictIdle(t0 + 2001 + HOUR)).toEqual(['t']);
    expect(engine.tree('t')).toBeUndefined();
    expect(engine.summary('t')).toMatchObject({ tenantId: 'tenant-a', lastEventMs: t0 + 2000 });
  });

  it('keeps a tree with a run still going, until it counts as abandoned', () => {
    const engine = createEngine({ retentionMs: HOUR, abandonedAfterMs: 24 * HOUR });
    engine.apply(at(t0, { kind: 'run_start', name: 'task', treeId: 't', runId: 't' }));
    expect(engine.evictIdle(t0 + 2 * HOUR)).toEqual([]);
    expect(engine.evictIdle(t0 + 24 * HOUR + 1)).toEqual(['t']);
  });

  it('evicts only the trees of the shard swept (the partition)', () => {
    const engine = createEngine({ retentionMs: HOUR, summaryRetentionMs: 24 * HOUR, shardOf: (id) => (id === 'b' || id === 'd' ? 1 : 0) });
    for (const id of ['a', 'b', 'c', 'd']) finished(engine, id);
    expect(engine.evictIdle(t0 + 2 * HOUR, 1)).toEqual(['b', 'd']);
    expect(engine.treeIds()).toEqual(['a', 'c']);
    expect(engine.evictIdle(t0 + 2 * HOUR, 0)).toEqual(['a', 'c']);
    // Summaries expire shard by shard too.
    expect(engine.evictIdle(t0 + 25 * HOUR, 0)).toEqual(['a', 'c']);
    expect(engine.summary('b')).toBeDefined();
    expect(engine.evictIdle(t0 + 25 * HOUR)).toEqual(['b', 'd']);
  });

  it('a late event for an evicted tree carries on its budget and its open breakers', () => {
    const book = createPolicyBook();
    book.apply('budget', policy({ policyId: 'budget', detector: 'tree_budget', params: { maxMicros: '1000' } }));
    const engine = createEngine({ policies: book, retentionMs: HOUR });
    finished(engine, 't', 800);
    engine.control(control({ scope: 'run', target: 't', treeId: 't', action: 'kill' }));
    engine.evictIdle(t0 + 2 * HOUR);
    const late = engine.apply(at(t0 + 2 * HOUR, { kind: 'llm_call', name: 'chat', treeId: 't', runId: 'other', costMicros: 300 }));
    expect(engine.tree('t')?.costMicros).toBe(1100);
    expect(late.controls.map((c) => c.reason?.detector)).toEqual(['tree_budget']); // 1100 > 1000: not a fresh budget from zero
    expect(engine.tree('t')?.breakers.get('run:t')?.breaker.state).toBe('open');
    expect(engine.summary('t')).toBeUndefined();
  });

  it('eviction changes: the summary, and a tombstone for every run written apart; a dropped summary leaves nothing', () => {
    const engine = createEngine({ retentionMs: HOUR, summaryRetentionMs: 24 * HOUR });
    finished(engine, 't');
    finished(engine, 'small');
    for (const runId of runIds) engine.apply(at(t0, { kind: 'run_end', name: 'task', treeId: 't', runId }));
    engine.changes('t');
    engine.changes('small');
    engine.evictIdle(t0 + 2 * HOUR);
    expect(engine.changes('small')).toMatchObject({ tree: null, summary: { treeId: 'small' }, runs: [] });
    const evicted = engine.changes('t');
    expect(evicted.tree).toBeNull();
    expect(evicted.summary?.treeId).toBe('t');
    expect(evicted.runs.map(([id, run]) => [id, run]).sort()).toEqual(['t', ...runIds].sort().map((id) => [id, null]));
    expect(engine.evictIdle(t0 + 24 * HOUR + 2000)).toEqual([]); // exactly at the summary retention
    expect(engine.evictIdle(t0 + 24 * HOUR + 2001)).toEqual(['t', 'small']);
    expect(engine.changes('t')).toEqual({ treeId: 't', tree: null, summary: null, runs: [] });
    expect(engine.summaryCount).toBe(0);
  });

  it('hands each dropped summary, with its breakers, to the caller (so their standing records can go), and only then', () => {
    const engine = createEngine({ retentionMs: HOUR, summaryRetentionMs: 24 * HOUR });
    finished(engine, 't');
    finished(engine, 'calm');
    engine.control(control({ scope: 'run', target: 't', treeId: 't', action: 'kill' }));
    engine.control(control({ scope: 'tree', target: 't', treeId: 't', action: 'kill' }));
    const dropped: Array<[string, string, string[]]> = [];
    const onDropped = (summary: { treeId: string; tenantId: string; breakers: Map<string, unknown> }) => dropped.push([summary.treeId, summary.tenantId, [...summary.breakers.keys()].sort()]);
    engine.evictIdle(t0 + 2 * HOUR, undefined, onDropped);
    expect(dropped).toEqual([]); // evicted to summaries: the breakers still stand
    engine.evictIdle(t0 + 24 * HOUR + 2001, undefined, onDropped);
    expect(dropped).toEqual([['t', 'tenant-a', ['run:t', 'tree:t']], ['calm', 'tenant-a', []]]);
  });

  it('forget drops summaries too', () => {
    const engine = createEngine({ retentionMs: HOUR });
    finished(engine, 't');
    engine.evictIdle(t0 + 2 * HOUR);
    engine.forget();
    expect(engine.summaryCount).toBe(0);
  });
});
