/**
 * Golden event logs: every streams/__fixtures__/*.jsonl is folded through the whole engine
 * (with the policies its .expected.json names) and must produce exactly the decisions and
 * ledger written there, so a behaviour change shows up in review as a diff of those files.
 *
 * Then the same log is replayed as the wire may deliver it: every event twice, and the runs of
 * a tree interleaved differently (each run's own order is kept, as Kafka keeps a producer's
 * order within a partition). The decisions must not change.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyEventSchema, spanEventSchema, type SpanEvent } from '../schemas/index.js';
import { createEngine } from './engine.js';
import { createPolicyBook } from './policies.js';

const dir = new URL('./__fixtures__/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

interface Expected {
  policies?: unknown[];
  decisions: Record<string, unknown>[];
  ledger: { treeCostMicros: number; runs: Record<string, { steps: number; costMicros: number }> };
}

function load(file: string): { events: SpanEvent[]; expected: Expected } {
  const events = readFileSync(new URL(file, dir), 'utf8').trim().split('\n').map((line) => spanEventSchema.parse(JSON.parse(line)));
  const expected = JSON.parse(readFileSync(new URL(file.replace('.jsonl', '.expected.json'), dir), 'utf8')) as Expected;
  return { events, expected };
}

function engineFor(expected: Expected) {
  const book = createPolicyBook();
  for (const raw of expected.policies ?? []) {
    const policy = policyEventSchema.parse(raw);
    expect(book.apply(policy.policyId, policy)).toMatchObject({ ok: true });
  }
  return createEngine({ policies: book });
}

/** Round-robin over runs, keeping each run's own order; then every event twice. */
function asTheWireMayDeliver(events: SpanEvent[]): SpanEvent[] {
  const byRun = new Map<string, SpanEvent[]>();
  for (const e of events) byRun.set(e.runId, [...(byRun.get(e.runId) ?? []), e]);
  const queues = [...byRun.values()].reverse();
  const out: SpanEvent[] = [];
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) out.push(q.shift()!);
  return out.flatMap((e) => [e, e]);
}

describe('golden event logs', () => {
  it('has fixtures to replay', () => expect(fixtures.length).toBeGreaterThan(2));

  it.each(fixtures)('%s', (file) => {
    const { events, expected } = load(file);
    const engine = engineFor(expected);
    const decisions = events.flatMap((event) => {
      const { controls, audits } = engine.apply(event);
      expect(controls.map((c) => c.eventId)).toEqual(audits.map((a) => a.eventId));
      return audits.map((audit, i) => ({
        trigger: audit.triggerEventId,
        scope: audit.scope,
        target: audit.target,
        action: controls[i]!.action,
        detector: audit.detector,
        threshold: audit.threshold,
        observed: audit.observed,
        policyId: audit.policyId,
        policyVersion: audit.policyVersion,
        timeMs: audit.timeMs,
        lastAction: audit.lastAction,
        stepsElapsed: audit.stepsElapsed,
        runCostMicros: audit.runCostMicros,
        treeCostMicros: audit.treeCostMicros,
      }));
    });
    expect(decisions).toEqual(expected.decisions);

    const tree = engine.tree(events[0]!.treeId)!;
    expect(tree.costMicros).toBe(expected.ledger.treeCostMicros);
    expect(Object.fromEntries([...tree.runs].map(([id, run]) => [id, { steps: run.steps, costMicros: run.costMicros }]))).toEqual(expected.ledger.runs);
  });

  it.each(fixtures)('%s: the same decisions with duplicates and runs interleaved differently', (file) => {
    const { events, expected } = load(file);
    const decide = (log: SpanEvent[]) => {
      const engine = engineFor(expected);
      return log.flatMap((e) => engine.apply(e).controls).map((c) => ({ id: c.eventId, action: c.action, scope: c.scope, target: c.target, detector: c.reason?.detector }));
    };
    const reference = decide(events);
    expect(reference).toHaveLength(expected.decisions.length);
    expect(decide(asTheWireMayDeliver(events))).toEqual(reference);
  });
});
