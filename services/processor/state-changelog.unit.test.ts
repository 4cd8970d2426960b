import { describe, expect, it } from 'vitest';
import { createEngine, INLINE_RUNS, type Engine } from '../../streams/engine.js';
import { signature } from '../../streams/detectors/loop.js';
import { span, toolCall } from '../../test/spans.js';
import { decodeRecord, encodeChanges, runKey, UnreadableSnapshot } from './state-changelog.js';

/** What a restoring processor does with the newest record of every key. */
function restoreFrom(records: Map<string, Buffer | null>): Engine {
  const engine = createEngine();
  for (const [key, value] of records) {
    const record = decodeRecord(key, value);
    if (record?.kind === 'tree') engine.loadTree(record.tree, record.runs);
    else if (record?.kind === 'run') engine.loadRun(record.treeId, record.runId, record.run);
    else if (record?.kind === 'summary') engine.loadSummary(record.summary);
    else if (record?.kind === 'snapshot') engine.load(record.snapshot);
  }
  return engine;
}

const write = (into: Map<string, Buffer | null>, engine: Engine, treeId: string) => {
  for (const [key, value] of encodeChanges(engine.changes(treeId))) into.set(key, value);
};

describe('processor state changelog', () => {
  it('writes a tree whose spend passes 2^53 micro-USD (the gateway takes any safe-integer cost), held at the largest safe integer', () => {
    const engine = createEngine();
    const huge = Number.MAX_SAFE_INTEGER - 1;
    engine.apply(span({ kind: 'llm_call', name: 'chat', runId: 'run-1', costMicros: huge, inputTokens: huge }));
    engine.apply(span({ kind: 'llm_call', name: 'chat', runId: 'run-1', costMicros: huge, outputTokens: huge }));
    const log = new Map<string, Buffer | null>();
    write(log, engine, 'run-1');
    const restored = restoreFrom(log).snapshot('run-1');
    expect(restored).toMatchObject({ costMicros: Number.MAX_SAFE_INTEGER, tokens: Number.MAX_SAFE_INTEGER });
    expect(restored).toEqual(engine.snapshot('run-1'));
  });

  it.each([['a small tree, one record', 2], ['a large tree, a record per run', INLINE_RUNS + 2]])('%s: restored from its records, written bit by bit, it decides exactly as the original', (_, runs) => {
    const original = createEngine();
    const log = new Map<string, Buffer | null>();
    original.apply(span({ kind: 'run_start', name: 'a', runId: 'run-1', attributes: { 'fusebox.agent.tags': 'x, y' } }));
    write(log, original, 'run-1');
    original.apply(span({ kind: 'llm_call', name: 'chat', runId: 'run-2', costMicros: 12_345, inputTokens: 7 }));
    original.apply(toolCall('search', 'h'));
    write(log, original, 'run-1');
    for (let i = 3; i <= runs; i++) original.apply(span({ kind: 'run_start', name: 'a', runId: `run-${i}` }));
    original.apply(toolCall('search', 'h'));
    write(log, original, 'run-1');
    const ids = Array.from({ length: runs }, (_, i) => `run-${i + 1}`);
    expect([...log.keys()].sort()).toEqual(runs > INLINE_RUNS ? ['run-1', ...ids.map((id) => runKey('run-1', id))].sort() : ['run-1']);

    const restored = restoreFrom(log);
    expect(restored.snapshot('run-1')).toEqual(original.snapshot('run-1'));
    const next = toolCall('search', 'h');
    expect(restored.apply(next)).toEqual(original.apply(next));
    const duplicate = toolCall('search', 'other', {}, { eventId: 'once' });
    original.apply(duplicate);
    write(log, original, 'run-1');
    expect(restoreFrom(log).apply(duplicate).duplicate).toBe(true); // the dedup window survives
  });

  it('an evicted tree is its summary plus tombstones; restored, a late event carries on its spend', () => {
    const engine = createEngine({ retentionMs: 1000 });
    const log = new Map<string, Buffer | null>();
    for (let i = 0; i <= INLINE_RUNS; i++) engine.apply(span({ kind: 'run_end', name: 'a', treeId: 't', runId: `r${i}`, startTimeMs: 0, endTimeMs: 10 }));
    engine.apply(span({ kind: 'run_end', name: 'a', treeId: 't', runId: 'r', costMicros: 500, startTimeMs: 10, endTimeMs: 20 }));
    write(log, engine, 't');
    expect(log.get(runKey('t', 'r'))).not.toBeNull();
    expect(engine.evictIdle(5000)).toEqual(['t']);
    write(log, engine, 't');
    expect(log.get(runKey('t', 'r'))).toBeNull();
    expect(log.get(runKey('t', 'r0'))).toBeNull();
    const restored = restoreFrom(log);
    expect(restored.tree('t')).toBeUndefined();
    expect(restored.summary('t')).toMatchObject({ costMicros: 500, lastEventMs: 20 });
    restored.apply(span({ kind: 'llm_call', name: 'm', treeId: 't', runId: 'late', costMicros: 1 }));
    expect(restored.tree('t')?.costMicros).toBe(501);
  });

  it('reads the first layout (the whole tree as JSON), and writes the whole tree at its next change', () => {
    const old = createEngine();
    old.apply(toolCall('search', 'h', {}, { eventId: 'v1-event', costMicros: 9 }));
    old.apply(span({ kind: 'run_start', name: 'b', runId: 'run-2' }));
    const json = JSON.stringify({ ...old.snapshot('run-1')!, seen: ['0123456789abcdef'] });
    const restored = restoreFrom(new Map([['run-1', Buffer.from(json)]]));
    expect(restored.tree('run-1')?.costMicros).toBe(9);
    const next = restored.changes('run-1');
    expect(next.tree?.runs.size).toBe(2);
    expect(restoreFrom(new Map(encodeChanges(next))).snapshot('run-1')).toEqual(restored.snapshot('run-1'));
  });

  it('refuses what it cannot read, naming the key and the reason', () => {
    expect(() => decodeRecord('t', Buffer.from([9, 0x54]))).toThrow(/key 't'.*layout version 9, this build reads 1 to 3/);
    expect(() => decodeRecord('t', Buffer.from('{"v":3}'))).toThrow(UnreadableSnapshot);
    expect(() => decodeRecord('t', Buffer.from([2, 0x54, 5, 0x61]))).toThrow(/truncated/);
    expect(() => decodeRecord('t', Buffer.from([3, 0x54, 5, 0x61]))).toThrow(/truncated/);
    expect(() => decodeRecord('t', Buffer.from([2, 0x58]))).toThrow(/unknown record kind/);
    expect(decodeRecord('t', null)).toBeNull();
  });

  it('writes cost-velocity points as varints (far smaller than their JSON) and reads them back exactly', () => {
    const engine = createEngine();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 40; i++) engine.apply(span({ kind: 'llm_call', name: 'chat', runId: 'run-1', costMicros: 2_500 + i, startTimeMs: t0 + i * 997, endTimeMs: t0 + i * 997 + 5 }));
    const log = new Map<string, Buffer | null>();
    write(log, engine, 'run-1');
    const restored = restoreFrom(log);
    expect(restored.snapshot('run-1')).toEqual(engine.snapshot('run-1'));
    const points = (engine.tree('run-1')!.states as Record<string, { points: unknown }>).cost_velocity!.points;
    // The whole record (its dedup window alone is 320 bytes) is smaller than the JSON of its two point sets, run and tree.
    expect(log.get('run-1')!.length).toBeLessThan(2 * JSON.stringify(points).length);
    const next = span({ kind: 'llm_call', name: 'chat', runId: 'run-1', costMicros: 1, startTimeMs: t0 + 50_000, endTimeMs: t0 + 50_001 });
    expect(restored.apply(next)).toEqual(engine.apply(next));
  });

  it('writes the other detector states as binary values, not JSON text, with non-ASCII names intact', () => {
    const engine = createEngine();
    for (let i = 0; i < 3; i++) engine.apply(toolCall('sök-ärende ✓', 'same', {}, { status: 'error', error: 'timeout' }));
    const log = new Map<string, Buffer | null>();
    write(log, engine, 'run-1');
    expect(restoreFrom(log).snapshot('run-1')).toEqual(engine.snapshot('run-1'));
    const states = engine.tree('run-1')!.runs.get('run-1')!.states;
    expect(Object.keys(states)).toEqual(expect.arrayContaining(['loop', 'failure_streak', 'iteration_cap']));
    // Binary, not JSON: the loop's fingerprints are not in the record as decimal text.
    const [fingerprint] = (states as { loop: { history: number[] } }).loop.history;
    expect(log.get('run-1')!.toString('latin1')).not.toContain(String(fingerprint));
    expect(log.get('run-1')!.toString('latin1')).not.toContain('"streaks"');
  });

  it('a state that is not plain data is written as its JSON (the earlier form), and read back as JSON would give it', () => {
    const engine = createEngine();
    engine.apply(toolCall('search', 'h'));
    (engine.tree('run-1')!.runs.get('run-1')!.states as Record<string, unknown>).iteration_cap = { steps: 1, since: new Date(0) };
    const log = new Map<string, Buffer | null>();
    write(log, engine, 'run-1');
    const restored = restoreFrom(log).tree('run-1')!.runs.get('run-1')!.states as Record<string, unknown>;
    expect(restored.iteration_cap).toEqual({ steps: 1, since: '1970-01-01T00:00:00.000Z' });
    expect(restored.loop).toEqual(engine.tree('run-1')!.runs.get('run-1')!.states.loop); // the next state, after the rewind, as binary again
  });

  it('reads layout 2, where the detector states were one JSON object', () => {
    // A summary record as layout 2 wrote it: totals, states as JSON, breakers as JSON.
    const text = (value: string) => Buffer.concat([Buffer.from([Buffer.byteLength(value)]), Buffer.from(value)]);
    const lastEventMs = Buffer.alloc(8);
    lastEventMs.writeDoubleLE(1_700_000_000_000);
    const states = { cost_velocity: { points: [[1_700_000_000_000, 500]], newestMs: 1_700_000_000_000 }, tree_budget: {} };
    const record = Buffer.concat([Buffer.from([2, 0x53]), text('acme'), Buffer.from([100, 7]), lastEventMs, text(JSON.stringify(states)), text('[]')]);
    expect(decodeRecord('t', record)).toEqual({ kind: 'summary', summary: { tenantId: 'acme', costMicros: 100, tokens: 7, lastEventMs: 1_700_000_000_000, treeId: 't', states, breakers: new Map() } });
  });

  describe('loop states written by the build before fingerprints (history as signature texts)', () => {
    /** An engine two identical failures into a loop, its loop state put back as the earlier build kept it. */
    function legacy(runs = 1): Engine {
      const engine = createEngine();
      for (let i = 2; i <= runs; i++) engine.apply(span({ kind: 'run_start', name: 'a', runId: `run-${i}` }));
      const fails = [toolCall('search', 'h'), toolCall('search', 'h')];
      for (const event of fails) engine.apply(event);
      (engine.tree('run-1')!.runs.get('run-1')!.states as Record<string, unknown>).loop = { history: fails.map((e) => signature(e)) };
      return engine;
    }

    it.each([['in the tree record', 1], ['in a run record', INLINE_RUNS + 2]])('%s: load, and the third identical failure trips as it would have', (_, runs) => {
      const log = new Map<string, Buffer | null>();
      write(log, legacy(runs), 'run-1');
      const restored = restoreFrom(log);
      const loop = restored.tree('run-1')!.runs.get('run-1')!.states.loop as { history: unknown[]; tools: string[] };
      expect(loop.history.every((h) => typeof h === 'number')).toBe(true);
      expect(loop.tools).toEqual(['search', 'search']);
      expect(restored.apply(toolCall('search', 'h')).controls.map((c) => [c.reason?.detector, c.reason?.observed])).toEqual([['loop', 3]]);
    });

    it('in the first layout (JSON): load, and the pattern carries on', () => {
      const json = JSON.stringify(legacy().snapshot('run-1'));
      expect(json).toContain('\\u0000');
      const restored = restoreFrom(new Map([['run-1', Buffer.from(json)]]));
      expect(restored.apply(toolCall('search', 'h')).controls.map((c) => c.reason?.detector)).toEqual(['loop']);
    });

    it('a loop state of neither shape is refused, naming the key and the detector', () => {
      const engine = legacy();
      (engine.tree('run-1')!.runs.get('run-1')!.states as Record<string, unknown>).loop = { history: 42 };
      const [[key, value]] = encodeChanges(engine.changes('run-1')) as [[string, Buffer]];
      expect(() => decodeRecord(key, value)).toThrow(UnreadableSnapshot);
      expect(() => decodeRecord(key, value)).toThrow(/key 'run-1'.*detector 'loop': loop state without a history array/);
      const json = JSON.stringify(engine.snapshot('run-1'));
      expect(() => decodeRecord('run-1', Buffer.from(json))).toThrow(/key 'run-1'.*detector 'loop'/);
    });
  });
});
