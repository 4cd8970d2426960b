/** The answer of the tree budget route, in zod (types and OpenAPI). */
import { z } from 'zod';

export const treeBudgetView = z.object({
  treeId: z.string(),
  rootRunId: z.string().meta({ description: 'the run whose agent (and tags) select the budget policy' }),
  agentId: z.string(),
  spent: z.object({
    costMicros: z.number().int().meta({ description: 'integer micro-USD of the priced spans, exact' }),
    costUsd: z.string(),
    unpricedSpans: z.number().int().meta({ description: 'model calls with no cost: their spend is unknown, not zero' }),
    tokens: z.number().int().meta({ description: 'input + output tokens: what a token ceiling counts' }),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cachedTokens: z.number().int(),
    spans: z.number().int(),
  }),
  ceiling: z.object({
    maxMicros: z.number().int().nullable(),
    maxUsd: z.string().nullable(),
    maxTokens: z.number().int().nullable(),
    policyId: z.string(),
    policyVersion: z.number().int(),
    disposition: z.enum(['block', 'warn']),
  }).nullable().meta({ description: 'the tree_budget policy in force for the tree\'s root run; null: no budget' }),
  remaining: z.object({
    costMicros: z.number().int().nullable().meta({ description: 'ceiling minus spent; negative when over' }),
    tokens: z.number().int().nullable(),
  }),
  exceeded: z.boolean(),
  trip: z.object({ eventId: z.string(), time: z.string(), observed: z.number().int(), threshold: z.number().int(), action: z.string(), policyId: z.string(), policyVersion: z.number().int() })
    .nullable().meta({ description: 'the newest tree_budget trip or warning the processor recorded for the tree' }),
  asOf: z.string().meta({ description: 'end time of the newest span in the ledger: spans the sink has not yet written are not counted' }),
}).meta({ id: 'TreeBudget' });
