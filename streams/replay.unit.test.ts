/**
 * Golden event logs: every streams/__fixtures__/*.jsonl is folded through the whole engine and
 * must produce exactly the decisions and ledger in its .expected.json, so a behaviour change
 * shows up in review as a diff of those files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spanEventSchema } from '../schemas/index.js';
import { createEngine } from './engine.js';

const dir = new URL('./__fixtures__/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

interface Expected {
  decisions: Record<string, unknown>[];
  ledger: { treeCostMicros: number; runs: Record<string, { steps: number; costMicros: number }> };
}

describe('golden event logs', () => {
  it('has fixtures to replay', () => expect(fixtures.length).toBeGreaterThan(1));

  it.each(fixtures)('%s', (file) => {
    const events = readFileSync(new URL(file, dir), 'utf8').trim().split('\n').map((line) => spanEventSchema.parse(JSON.parse(line)));
    const expected = JSON.parse(readFileSync(new URL(file.replace('.jsonl', '.expected.json'), dir), 'utf8')) as Expected;
    const engine = createEngine();
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
});
