import { describe, expect, it } from 'vitest';
import type { TenantSpend } from '../schemas/index.js';
import { costVelocityParams } from './detectors/cost-velocity.js';
import { initialTenantState, step, type TenantState } from './tenant-velocity.js';

const params = costVelocityParams.parse({ windowMs: '60000', maxMicros: '10000' });
let n = 0;
const summary = (spend: Array<[number, number]>, latestMs = Math.max(0, ...spend.map(([t]) => t))): TenantSpend =>
  ({ signalId: `s-${++n}`, tenantId: 'acme', spend: spend.map(([timeMs, micros]) => ({ timeMs, micros })), latestMs, runId: 'r', treeId: 't' });

function fold(summaries: TenantSpend[], start: TenantState = initialTenantState('acme')) {
  let state = start;
  const actions: string[] = [];
  for (const s of summaries) {
    const out = step(state, s, params);
    state = out.state;
    actions.push(...out.decisions.map((d) => `${d.action}:${d.observed}`));
  }
  return { state, actions };
}

describe('tenant cost velocity', () => {
  it.each([
    { case: 'at the limit within the window', summaries: [summary([[1_000, 6_000]]), summary([[30_000, 4_000]])], actions: [] },
    { case: 'over it across two agents\' batches', summaries: [summary([[1_000, 6_000]]), summary([[30_000, 4_001]])], actions: ['trip:10001'] },
    { case: 'the same spend further apart than the window', summaries: [summary([[1_000, 6_000]]), summary([[70_000, 6_000]])], actions: [] },
    { case: 'a late batch inside the window counts', summaries: [summary([[50_000, 6_000]]), summary([[20_000, 6_000]])], actions: ['trip:12000'] },
    { case: 'closes once time moves past the window, with no spend', summaries: [summary([[1_000, 6_000], [2_000, 6_000]]), summary([], 30_000), summary([], 62_001)], actions: ['trip:12000', 'reset:0'] },
  ])('$case', ({ summaries, actions }) => {
    expect(fold(summaries).actions).toEqual(actions);
  });

  it('ignores a redelivered summary', () => {
    const once = summary([[1_000, 6_000]]);
    expect(fold([once, once, summary([[2_000, 4_001]])]).actions).toEqual(['trip:10001']);
  });
});
