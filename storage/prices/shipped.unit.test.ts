import { describe, expect, it } from 'vitest';
import { createPriceTable } from '../../streams/pricing/index.js';
import { shippedPrices } from './shipped.js';

describe('the shipped price list', () => {
  it('parses, and prices the common models of OpenAI, Anthropic and Google', () => {
    const table = createPriceTable(shippedPrices());
    const at = Date.parse('2025-12-01T00:00:00Z');
    for (const [provider, model] of [['openai', 'gpt-4o-2024-08-06'], ['openai', 'gpt-4.1'], ['openai', 'gpt-5'], ['openai', 'o3'], ['anthropic', 'claude-sonnet-4-5-20250929'], ['anthropic', 'claude-3-5-haiku-20241022'], ['google', 'gemini-2.5-pro'], ['google', 'gemini-2.0-flash-001']]) {
      const found = table.lookup('any', provider!, model!, at);
      expect(found.ok, `${provider}/${model}`).toBe(true);
    }
    expect(new Set(shippedPrices().map((p) => p.provider))).toEqual(new Set(['openai', 'anthropic', 'google']));
  });
});
