import { describe, expect, it } from 'vitest';
import { foldDetector } from '../../test/fold.js';
import { span } from '../../test/spans.js';
import { addSpend, costVelocity, maxWindowSpend, runCostVelocity } from './cost-velocity.js';

const T0 = 1_700_000_000_000;
const at = (offsetMs: number, micros: number, eventId = `v-${offsetMs}-${micros}`) => span({ eventId, kind: 'llm_call', name: 'm', costMicros: micros, startTimeMs: T0 + offsetMs - 10, endTimeMs: T0 + offsetMs });
// $50/hour over 5 minutes: $4.166666 per window.
const params = costVelocity.params.parse({ perHourMicros: '50000000', windowMs: '300000' });

describe('cost velocity', () => {
  it('derives the per-window limit from an hourly rate', () => {
    expect(params).toEqual({ windowMs: 300_000, maxMicros: 4_166_666 });
  });

  it.each([
    { case: 'under the limit within the window', events: [at(0, 2_000_000), at(60_000, 2_000_000)], trips: false },
    { case: 'over it within the window', events: [at(0, 2_000_000), at(60_000, 2_200_000)], trips: true },
    { case: 'the same spend spread beyond the window', events: [at(0, 2_000_000), at(300_000, 2_200_000)], trips: false },
  ])('$case', ({ events, trips }) => {
    expect(foldDetector(costVelocity, events, params).findings.some((f) => f !== null)).toBe(trips);
  });

  it('reports the window spend, the limit and the window', () => {
    const { findings } = foldDetector(costVelocity, [at(0, 3_000_000), at(1_000, 3_000_000)], params);
    expect(findings[1]).toMatchObject({ threshold: 4_166_666, observed: 6_000_000, windowMs: 300_000 });
    expect(findings[1]?.message).toBe('spawn tree spent $6.00 within 300 s, above the limit of $4.166666');
    expect(runCostVelocity.stateScope).toBe('run');
  });

  it('finds the same breach whatever the arrival order (late events within the lateness bound)', () => {
    const events = [at(0, 1_000_000), at(100_000, 1_500_000), at(200_000, 1_000_000), at(250_000, 900_000), at(700_000, 4_000_000)];
    const orders = [events, [...events].reverse(), [events[4]!, events[0]!, events[2]!, events[1]!, events[3]!]];
    for (const order of orders) {
      const { state, findings } = foldDetector(costVelocity, order, params);
      expect(findings.some((f) => f !== null)).toBe(true);
      expect(Math.max(...state.points.map(([t]) => maxWindowSpend(state.points, t, params.windowMs)))).toBe(4_400_000);
    }
  });

  it('forgets spend older than the longest window plus the lateness bound', () => {
    const { state } = foldDetector(costVelocity, [at(0, 1), at(3_600_000 + 300_001, 1)], params);
    expect(state.points).toHaveLength(1);
  });

  it('keeps points in time order, late ones placed, and the window ending at an in-order event is a suffix', () => {
    const { state } = foldDetector(costVelocity, [at(0, 1), at(5_000, 2), at(2_000, 4), at(9_000, 8), at(1_000, 16)], params);
    expect(state.points.map(([t]) => t - T0)).toEqual([0, 1_000, 2_000, 5_000, 9_000]);
    expect(maxWindowSpend(state.points, T0 + 9_000, 8_000)).toBe(2 + 4 + 8); // (1_000, 9_000]
    expect(maxWindowSpend(state.points, T0 + 1_000, 3_000)).toBe(16 + 4 + 1); // late: the window [0, 3_000) is the largest holding it
    expect(maxWindowSpend([], T0, 1_000)).toBe(0);
  });

  it('addSpend (the tenant stage) leaves the state it is given as it was', () => {
    const before = { points: [[T0, 5]] as Array<[number, number]>, newestMs: T0 };
    const after = addSpend(before, T0 + 1, 7);
    expect(before).toEqual({ points: [[T0, 5]], newestMs: T0 });
    expect(after).toEqual({ points: [[T0, 5], [T0 + 1, 7]], newestMs: T0 + 1 });
  });
});
