import { describe, expect, it } from 'vitest';
import { costMicros } from './cost.js';

const GPT_4O = { inputMicrosPerMTok: 2_500_000, outputMicrosPerMTok: 10_000_000, cachedInputMicrosPerMTok: 1_250_000 };

describe('costMicros', () => {
  const cases: [string, { inputTokens: number; outputTokens: number; cachedTokens: number }, typeof GPT_4O, number][] = [
    ['no tokens cost nothing', { inputTokens: 0, outputTokens: 0, cachedTokens: 0 }, GPT_4O, 0],
    ['900 in, 40 out at gpt-4o', { inputTokens: 900, outputTokens: 40, cachedTokens: 0 }, GPT_4O, 2_250 + 400],
    ['cached tokens are part of the input, billed at the cached price', { inputTokens: 1_000, outputTokens: 0, cachedTokens: 600 }, GPT_4O, 1_000 + 750],
    ['more cached than input: all billed as cached', { inputTokens: 100, outputTokens: 0, cachedTokens: 400 }, GPT_4O, 500],
    ['exactly half a micro rounds up', { inputTokens: 1, outputTokens: 0, cachedTokens: 0 }, { ...GPT_4O, inputMicrosPerMTok: 500_000 }, 1],
    ['just under half rounds down', { inputTokens: 1, outputTokens: 0, cachedTokens: 0 }, { ...GPT_4O, inputMicrosPerMTok: 499_999 }, 0],
    ['fractions are summed before rounding, not rounded per term', { inputTokens: 1, outputTokens: 1, cachedTokens: 0 }, { inputMicrosPerMTok: 400_000, outputMicrosPerMTok: 400_000, cachedInputMicrosPerMTok: 0 }, 1],
    ['a million tokens cost the listed price', { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedTokens: 0 }, GPT_4O, 12_500_000],
    ['large counts stay exact past 2^53 intermediates', { inputTokens: 2 ** 40, outputTokens: 0, cachedTokens: 0 }, { ...GPT_4O, inputMicrosPerMTok: 3_000_001 }, 3_298_535_982_840],
  ];
  for (const [name, usage, rates, expected] of cases) {
    it(name, () => expect(costMicros(usage, rates)).toEqual({ ok: true, costMicros: expected }));
  }

  it('a cost beyond 2^53 micro-USD is refused, not rounded', () => {
    expect(costMicros({ inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 0, cachedTokens: 0 }, { ...GPT_4O, inputMicrosPerMTok: 2_000_000 })).toEqual({ ok: false, reason: 'cost_out_of_range' });
  });
});
