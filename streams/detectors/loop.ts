/**
 * Loop: the same tool with the same canonical arguments N times in a row (default 3) with no
 * progress (same result hash, or same error), or a short cycle of such calls repeating N
 * times (A, B, A, B, A, B).
 *
 * Only tool calls count. Model calls between them do not break the pattern: an agent that
 * asks its model, calls the same tool, fails the same way and asks again is still looping. A
 * tool call without an argument hash cannot be compared, so it clears the history.
 *
 * History entries are 53-bit fingerprints of the call's signature (tool, argument hash, status,
 * outcome), not the signature text: 8 bytes in memory and ~16 digits in the changelog instead of
 * two 32-hex hashes. Two different signatures compare equal only if their fingerprints collide:
 * within one run's 80 entries, about 1 in 10^12 (the dedup window takes the same risk).
 */
import { z } from 'zod';
import type { SpanEvent } from '../../schemas/index.js';
import type { Detector, Finding } from './detector.js';
import { begin, feed, finish, fingerprint } from '../fingerprint.js';

export interface LoopParams {
  /** Repetitions that trip. The repetition that reaches it is the one that trips. */
  threshold: number;
  /** Longest cycle looked for; 1 means identical consecutive calls only. */
  maxCycle: number;
}

export interface LoopState {
  /** Fingerprints (`signatureFingerprint`) of the latest comparable tool calls, oldest first. */
  history: number[];
  /** Tool names of the last MAX_CYCLE entries of history, oldest first: what a finding names. */
  tools: string[];
}

/** Enough history for the longest cycle at the highest threshold a policy may set. */
const MAX_THRESHOLD = 20;
const MAX_CYCLE = 4;
const HISTORY = MAX_THRESHOLD * MAX_CYCLE;
const SEP = '\u0000';

const params = z.object({
  threshold: z.coerce.number().int().min(2).max(MAX_THRESHOLD).default(3),
  maxCycle: z.coerce.number().int().min(1).max(MAX_CYCLE).default(3),
});

/** The canonical signature text: calls are the same call when these are equal. */
export function signature(event: SpanEvent): string | null {
  if (event.kind !== 'tool_call' || event.argsHash === null) return null;
  return `${event.name}${SEP}${event.argsHash}${SEP}${event.status}${SEP}${outcome(event)}`;
}

const outcome = (event: SpanEvent): string => event.outputHash ?? (event.status === 'error' ? `error:${event.error ?? ''}` : 'none');

/** The fingerprint of a signature text (what `signature` returns); old snapshots convert with it. */
export function fingerprintOfSignature(text: string): number {
  return fingerprint(text);
}

/** The fingerprint of the event's signature, equal to `fingerprintOfSignature(signature(event))`, or null. */
export function signatureFingerprint(event: SpanEvent): number | null {
  if (event.kind !== 'tool_call' || event.argsHash === null) return null;
  const status = event.status;
  const out = event.outputHash ?? (status === 'error' ? null : 'none');
  const error = out === null ? event.error ?? '' : '';
  const outLength = out === null ? 6 + error.length : out.length; // 'error:' + error
  begin(event.name.length + event.argsHash.length + status.length + outLength + 3);
  feed(event.name);
  feed(SEP);
  feed(event.argsHash);
  feed(SEP);
  feed(status);
  feed(SEP);
  if (out === null) {
    feed('error:');
    feed(error);
  } else {
    feed(out);
  }
  return finish();
}

/** How many times the last `length` entries repeat back to back at the end of history. */
function repetitions(history: readonly number[], length: number): number {
  const end = history.length - length;
  if (end < 0) return 0;
  let reps = 1;
  for (let start = end - length; start >= 0; start -= length) {
    for (let i = 0; i < length; i++) if (history[start + i] !== history[end + i]) return reps;
    reps += 1;
  }
  return reps;
}

/** Whether the last `length` entries are all one call (a cycle of one, found at length 1). */
function uniform(history: readonly number[], length: number): boolean {
  const last = history[history.length - 1];
  for (let i = history.length - length; i < history.length - 1; i++) if (history[i] !== last) return false;
  return true;
}

/**
 * A loop state read back from the changelog: this layout as it is, or the first one (history as
 * signature texts), converted exactly, so a run's pattern carries on across the upgrade.
 */
export function reviveLoopState(raw: unknown): LoopState {
  const history = (raw as { history?: unknown } | null)?.history;
  if (!Array.isArray(history)) throw new Error('loop state without a history array');
  const tools = (raw as { tools?: unknown }).tools;
  if (history.every((h) => typeof h === 'number') && Array.isArray(tools) && tools.every((t) => typeof t === 'string')) {
    return { history: history as number[], tools: tools as string[] };
  }
  if (tools === undefined && history.every((h) => typeof h === 'string')) {
    const texts = history as string[];
    return { history: texts.map(fingerprintOfSignature), tools: texts.slice(-MAX_CYCLE).map((s) => s.split(SEP)[0]!) };
  }
  throw new Error('loop state is neither { history: number[], tools: string[] } nor the earlier { history: string[] }');
}

export const loop: Detector<LoopState, LoopParams> = {
  name: 'loop',
  stateScope: 'run',
  params,
  defaults: Object.freeze({ threshold: 3, maxCycle: 3 }),
  initialState: () => ({ history: [], tools: [] }),
  revive: reviveLoopState,
  // In place (the caller owns the state): a push and, once full, a shift; no copy of the history.
  evolve(state, event) {
    if (event.kind !== 'tool_call') return state;
    const sig = signatureFingerprint(event);
    if (sig === null) {
      state.history.length = 0;
      state.tools.length = 0;
      return state;
    }
    if (state.history.length >= HISTORY) state.history.shift();
    state.history.push(sig);
    if (state.tools.length >= MAX_CYCLE) state.tools.shift();
    state.tools.push(event.name);
    return state;
  },
  decide(state, event, p): Finding | null {
    if (event.kind !== 'tool_call' || event.argsHash === null) return null;
    const history = state.history;
    for (let length = 1; length <= p.maxCycle; length++) {
      if (history.length < length) break; // nothing longer can repeat either
      if (length > 1 && uniform(history, length)) continue;
      const reps = repetitions(history, length);
      if (reps >= p.threshold) {
        const names = state.tools.slice(-length).map((name) => `'${name}'`);
        const message = length === 1
          ? `tool ${names[0]} called ${reps} times in a row with the same arguments and the same ${event.status === 'error' ? 'error' : 'result'}`
          : `cycle ${names.join(' -> ')} repeated ${reps} times with the same arguments and the same outcomes`;
        return { threshold: p.threshold, observed: reps, windowMs: null, message };
      }
    }
    return null;
  },
};
