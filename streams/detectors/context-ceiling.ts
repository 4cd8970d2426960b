/** Context ceiling: a model call whose input tokens exceed the policy's limit. Off by default. */
import { z } from 'zod';
import type { Detector } from './detector.js';

export interface ContextCeilingParams {
  maxInputTokens: number;
}

export const contextCeiling: Detector<null, ContextCeilingParams> = {
  name: 'context_ceiling',
  stateScope: 'run',
  params: z.object({ maxInputTokens: z.coerce.number().int().min(1) }),
  defaults: null,
  initialState: () => null,
  evolve: (state) => state,
  decide(_state, event, p) {
    if (event.kind !== 'llm_call' || event.inputTokens <= p.maxInputTokens) return null;
    return { threshold: p.maxInputTokens, observed: event.inputTokens, windowMs: null, message: `model call '${event.name}' sent ${event.inputTokens} input tokens, above the ceiling of ${p.maxInputTokens}` };
  },
};
