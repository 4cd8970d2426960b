import { describe, expect, it } from 'vitest';
import { randomId } from './ids.js';

describe('random ids', () => {
  it('are version 4 UUIDs, all different, across refills of the random pool', () => {
    const ids = Array.from({ length: 5_000 }, randomId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
