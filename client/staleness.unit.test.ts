import { describe, expect, it } from 'vitest';
import { createStalenessWatch } from './staleness.js';

describe('staleness watch', () => {
  it('given contact within the bound, stays fresh', () => {
    const watch = createStalenessWatch({ boundMs: 1_000, mode: 'closed', nowMs: 0 });
    expect(watch.evaluate(1_000)).toBeNull();
    expect(watch.contact(900)).toBeNull();
    expect(watch.evaluate(1_900)).toBeNull();
    expect(watch.refusing).toBe(false);
  });

  it('goes stale once past the bound, reports it once, and fails closed when so configured', () => {
    const watch = createStalenessWatch({ boundMs: 1_000, mode: 'closed', nowMs: 0 });
    expect(watch.evaluate(1_001)).toEqual({ state: 'stale', mode: 'closed', silentForMs: 1_001, boundMs: 1_000 });
    expect(watch.evaluate(5_000)).toBeNull();
    expect(watch.refusing).toBe(true);
    expect(watch.contact(6_000)).toEqual({ state: 'fresh', mode: 'closed', silentForMs: 6_000, boundMs: 1_000 });
    expect(watch.contact(6_100)).toBeNull();
    expect(watch.refusing).toBe(false);
  });

  it('failing open is stale but never refusing', () => {
    const watch = createStalenessWatch({ boundMs: 10, mode: 'open', nowMs: 0 });
    expect(watch.evaluate(11)?.mode).toBe('open');
    expect(watch.stale).toBe(true);
    expect(watch.refusing).toBe(false);
  });

  it('ignores a contact reported out of order (an older time)', () => {
    const watch = createStalenessWatch({ boundMs: 100, mode: 'closed', nowMs: 1_000 });
    watch.contact(500);
    expect(watch.evaluate(1_100)).toBeNull();
    expect(watch.evaluate(1_101)?.state).toBe('stale');
  });

  it('refuses a bound that is not positive', () => {
    expect(() => createStalenessWatch({ boundMs: 0, mode: 'open', nowMs: 0 })).toThrow(/staleAfterMs must be positive, got 0/);
  });
});
