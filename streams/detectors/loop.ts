/**
 * Loop detector: the same tool with the same canonical arguments N times in a row (default 3)
 * with no progress: the same result hash, or the same error.
 *
 * A decider: `evolve` folds an event into state, `decide` reads the evolved state. A restarted
 * processor rebuilds state with `evolve` alone and re-emits nothing. No clock, no I/O.
 *
 * Only tool calls count. Model calls between them do not break the streak: an agent that asks
 * its model, calls the same tool, fails the same way and asks again is still looping. A tool
 * call without an argument hash cannot be compared, so it ends any streak instead of joining it.
 */
import type { SpanEvent } from '../../schemas/index.js';
import type { Decision } from '../decision.js';

export interface LoopPolicy {
  /** Identical consecutive calls that trip. The call that reaches it is the one that trips. */
  threshold: number;
}

export interface LoopState {
  /** name, argument hash and outcome of the last tool call; null before any comparable call. */
  signature: string | null;
  streak: number;
}

export const DEFAULT_LOOP_POLICY: LoopPolicy = Object.freeze({ threshold: 3 });

export function initialState(): LoopState {
  return { signature: null, streak: 0 };
}

export function evolve(state: LoopState, event: SpanEvent): LoopState {
  if (event.kind !== 'tool_call') return state;
  if (event.argsHash === null) return initialState();
  const outcome = event.outputHash ?? (event.status === 'error' ? `error:${event.error ?? ''}` : 'none');
  const signature = `${event.name}\u0000${event.argsHash}\u0000${event.status}\u0000${outcome}`;
  return signature === state.signature ? { signature, streak: state.streak + 1 } : { signature, streak: 1 };
}

export function decide(state: LoopState, event: SpanEvent, policy: LoopPolicy): Decision[] {
  if (event.kind !== 'tool_call' || state.streak < policy.threshold) return [];
  return [{
    detector: 'loop',
    scope: 'run',
    threshold: policy.threshold,
    observed: state.streak,
    windowMs: null,
    message: `tool '${event.name}' called ${state.streak} times in a row with the same arguments and the same ${event.status === 'error' ? 'error' : 'result'}`,
  }];
}
