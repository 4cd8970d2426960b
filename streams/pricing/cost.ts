/**
 * What a model call cost, in integer micro-USD, from its token counts and a price per million
 * tokens. The products are summed exactly (BigInt: tokens up to 2^53 times prices up to 2^53
 * do not fit a double) and rounded once, at the end, half up: a call of 0.5 micro-USD costs 1,
 * one of 0.49 costs 0. Rounding each term instead would let three halves become three micros.
 *
 * Token convention (as OpenTelemetry's gen_ai.usage.input_tokens): `inputTokens` counts every
 * input token, cached ones included; `cachedTokens` says how many of them were read from the
 * provider's cache and are billed at the cached-input price. A span claiming more cached than
 * input tokens is priced as all input cached (the cached count is what the provider billed).
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

/** Micro-USD per million tokens, integers. */
export interface Rates {
  inputMicrosPerMTok: number;
  outputMicrosPerMTok: number;
  cachedInputMicrosPerMTok: number;
}

const PER_MILLION = 1_000_000n;

export type CostResult = { ok: true; costMicros: number } | { ok: false; reason: 'cost_out_of_range' };

export function costMicros(usage: TokenUsage, rates: Rates): CostResult {
  const cached = BigInt(usage.cachedTokens);
  const input = BigInt(usage.inputTokens);
  const uncached = input > cached ? input - cached : 0n;
  const scaled = uncached * BigInt(rates.inputMicrosPerMTok)
    + cached * BigInt(rates.cachedInputMicrosPerMTok)
    + BigInt(usage.outputTokens) * BigInt(rates.outputMicrosPerMTok);
  const rounded = (scaled + PER_MILLION / 2n) / PER_MILLION;
  if (rounded > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'cost_out_of_range' };
  return { ok: true, costMicros: Number(rounded) };
}
