/**
 * A tree's budget ledger from what it spent and the budget policy in force, pure. The tree
 * budget detector counts cost in micro-USD and tokens as input + output (cached input is not
 * counted again), and trips once spent is above the ceiling; the ledger uses the same measures.
 */
import type { TreeBudgetParams } from '../../../streams/detectors/tree-budget.js';

export interface Spent {
  costMicros: number;
  /** input + output tokens: what a token ceiling is compared with. */
  tokens: number;
}

export interface BudgetBalance {
  /** Ceiling minus spent; negative when over (by that much); null without a ceiling of that kind. */
  remaining: { costMicros: number | null; tokens: number | null };
  /** Spent above a ceiling: the tree budget breaker trips (block) or warns at this point. */
  exceeded: boolean;
}

export function budgetBalance(spent: Spent, ceiling: TreeBudgetParams | null): BudgetBalance {
  const left = (max: number | null, used: number) => (max === null ? null : max - used);
  const remaining = { costMicros: left(ceiling?.maxMicros ?? null, spent.costMicros), tokens: left(ceiling?.maxTokens ?? null, spent.tokens) };
  return { remaining, exceeded: (remaining.costMicros ?? 0) < 0 || (remaining.tokens ?? 0) < 0 };
}
