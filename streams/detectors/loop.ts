/**
 * Loop: the same tool with the same canonical arguments N times in a row (default 3) with no
 * progress (same result hash, or same error), or a short cycle of such calls repeating N
 * times (A, B, A, B, A, B).
 *
 * Only tool calls count. Model calls between them do not break the pattern: an agent that
 * asks its model, calls the same tool, fails the same way and asks again is still looping. A
 * tool call without an argument hash cannot be compared, so it clears the history.
 */
import { z } from 'zod';
import type { SpanEvent } from '../../schemas/index.js';
import type { Detector, Finding } from './detector.js';

export interface LoopParams {
  /** Repetitions that trip. The repetition that reaches it is the one that trips. */
  threshold: number;
  /** Longest cycle looked for; 1 means identical consecutive calls only. */
  maxCycle: number;
}

export interface LoopState {
  /** Signatures (tool, argument hash, outcome) of the latest comparable tool calls, oldest first. */
  history: string[];
}

/** Enough history for the longest cycle at the highest threshold a policy may set. */
const MAX_THRESHOLD = 20;
const MAX_CYCLE = 4;
const HISTORY = MAX_THRESHOLD * MAX_CYCLE;

const params = z.object({
  threshold: z.coerce.number().int().min(2).max(MAX_THRESHOLD).default(3),
  maxCycle: z.coerce.number().int().min(1).max(MAX_CYCLE).default(3),
});

export function signature(event: SpanEvent): string | null {
  if (event.kind !== 'tool_call' || event.argsHash === null) return null;
  const outcome = event.outputHash ?? (event.status === 'error' ? `error:${event.error ?? ''}` : 'none');
  return `${event.name}\u0000${event.argsHash}\u0000${event.status}\u0000${outcome}`;
}

/** How many times the last `length` signatures repeat back to back at the end of history. */
function repetitions(history: string[], length: number): number {
  if (history.length < length) return 0;
  let reps = 1;
  for (let start = history.length - 2 * length; start >= 0; start -= length) {
    for (let i = 0; i < length; i++) if (history[start + i] !== history[history.length - length + i]) return reps;
    reps += 1;
  }
  return reps;
}

export const loop: Detector<LoopState, LoopParams> = {
  name: 'loop',
  stateScope: 'run',
  params,
  defaults: Object.freeze({ threshold: 3, maxCycle: 3 }),
  initialState: () => ({ history: [] }),
  evolve(state, event) {
    if (event.kind !== 'tool_call') return state;
    const sig = signature(event);
    if (sig === null) return { history: [] };
    const history = state.history.length >= HISTORY ? state.history.slice(1) : state.history.slice();
    history.push(sig);
    return { history };
  },
  decide(state, event, p): Finding | null {
    if (event.kind !== 'tool_call' || signature(event) === null) return null;
    for (let length = 1; length <= p.maxCycle; length++) {
      const tail = state.history.slice(-length);
      // A cycle of one repeated call is the identical-call case, found at length 1.
      if (length > 1 && new Set(tail).size === 1) continue;
      const reps = repetitions(state.history, length);
      if (reps >= p.threshold) {
        const names = tail.map((s) => `'${s.split('\u0000')[0]}'`);
        const message = length === 1
          ? `tool ${names[0]} called ${reps} times in a row with the same arguments and the same ${event.status === 'error' ? 'error' : 'result'}`
          : `cycle ${names.join(' -> ')} repeated ${reps} times with the same arguments and the same outcomes`;
        return { threshold: p.threshold, observed: reps, windowMs: null, message };
      }
    }
    return null;
  },
};
