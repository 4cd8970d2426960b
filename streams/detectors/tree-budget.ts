/**
 * Tree budget: the cumulative cost of a spawn tree, in micro-USD or tokens, above a ceiling.
 * The state is the tree's live ledger. No budget until a policy sets one.
 */
import { z } from 'zod';
import { addCapped } from '../capped-sum.js';
import type { Detector } from './detector.js';

export interface TreeBudgetParams {
  maxMicros: number | null;
  maxTokens: number | null;
}

export interface TreeLedgerState {
  costMicros: number;
  tokens: number;
}

export const treeBudget: Detector<TreeLedgerState, TreeBudgetParams> = {
  name: 'tree_budget',
  stateScope: 'tree',
  params: z
    .object({ maxMicros: z.coerce.number().int().min(0).nullable().default(null), maxTokens: z.coerce.number().int().min(0).nullable().default(null) })
    .refine((p) => p.maxMicros !== null || p.maxTokens !== null, { message: 'set maxMicros, maxTokens or both', path: ['maxMicros'] }),
  defaults: null,
  initialState: () => ({ costMicros: 0, tokens: 0 }),
  evolve(state, event) {
    // In place: the caller owns the state (an evicted tree's summary hands it on to the revived tree).
    state.costMicros = addCapped(state.costMicros, event.costMicros ?? 0);
    state.tokens = addCapped(state.tokens, addCapped(event.inputTokens, event.outputTokens));
    return state;
  },
  decide(state, _event, p) {
    if (p.maxMicros !== null && state.costMicros > p.maxMicros) {
      return { threshold: p.maxMicros, observed: state.costMicros, windowMs: null, message: `spawn tree spent ${usd(state.costMicros)}, above its budget of ${usd(p.maxMicros)}` };
    }
    if (p.maxTokens !== null && state.tokens > p.maxTokens) {
      return { threshold: p.maxTokens, observed: state.tokens, windowMs: null, message: `spawn tree used ${state.tokens} tokens, above its budget of ${p.maxTokens}` };
    }
    return null;
  },
};

export function usd(micros: number): string {
  return `$${(micros / 1_000_000).toFixed(micros % 10_000 === 0 ? 2 : 6)}`;
}
