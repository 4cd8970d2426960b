import { describe, expect, it } from 'vitest';
import { budgetBalance } from './ledger.js';

describe('budget balance', () => {
  const spent = { costMicros: 1_000, tokens: 500 };

  it.each([
    ['below the money ceiling', { maxMicros: 1_001, maxTokens: null }, { costMicros: 1, tokens: null }, false],
    ['exactly at it (the detector trips only above)', { maxMicros: 1_000, maxTokens: null }, { costMicros: 0, tokens: null }, false],
    ['above it, by how much', { maxMicros: 999, maxTokens: null }, { costMicros: -1, tokens: null }, true],
    ['a token ceiling only', { maxMicros: null, maxTokens: 400 }, { costMicros: null, tokens: -100 }, true],
    ['both, one exceeded', { maxMicros: 5_000, maxTokens: 499 }, { costMicros: 4_000, tokens: -1 }, true],
  ])('%s', (_name, ceiling, remaining, exceeded) => {
    expect(budgetBalance(spent, ceiling)).toEqual({ remaining, exceeded });
  });

  it('without a budget policy nothing remains to count down and nothing is exceeded', () => {
    expect(budgetBalance(spent, null)).toEqual({ remaining: { costMicros: null, tokens: null }, exceeded: false });
  });
});
