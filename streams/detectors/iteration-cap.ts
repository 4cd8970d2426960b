/**
 * Iteration cap: a run may take at most `maxSteps` steps. A step is any span but run_start and
 * run_end, and the step being decided counts: with maxSteps 100 the 101st step trips
 * (observed 101). Spans are emitted when a step ends, so that step has happened; the client's
 * local pre-check (issue 5) is what refuses it before it starts.
 */
import { z } from 'zod';
import type { Detector } from './detector.js';

export interface IterationCapParams {
  maxSteps: number;
}

export interface IterationCapState {
  steps: number;
}

export const isStep = (kind: string) => kind !== 'run_start' && kind !== 'run_end';

export const iterationCap: Detector<IterationCapState, IterationCapParams> = {
  name: 'iteration_cap',
  stateScope: 'run',
  params: z.object({ maxSteps: z.coerce.number().int().min(1).max(10_000_000).default(500) }),
  defaults: Object.freeze({ maxSteps: 500 }),
  initialState: () => ({ steps: 0 }),
  evolve(state, event) {
    if (isStep(event.kind)) state.steps += 1; // in place: the caller owns the state
    return state;
  },
  decide(state, event, p) {
    if (!isStep(event.kind) || state.steps <= p.maxSteps) return null;
    return { threshold: p.maxSteps, observed: state.steps, windowMs: null, message: `run took ${state.steps} steps, above its cap of ${p.maxSteps}` };
  },
};
