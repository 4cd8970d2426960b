import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/lib/workload.js';
import { iso } from './iso.js';

describe('iso', () => {
  it('writes exactly what toISOString writes, at the edges of days, years and its fast range', () => {
    const edges = [0, 1, 999, 1_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), 253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001, 1.5, 8.64e15];
    for (const ms of edges) expect(iso(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('agrees with toISOString on 100,000 random times, across more days than it caches', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor(random() * 253_402_300_800_000);
      expect(iso(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
