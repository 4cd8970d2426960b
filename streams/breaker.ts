/**
 * The circuit breaker as a table of legal moves. An illegal move throws a typed error rather
 * than silently doing something; "cooldown elapsed" is an input the caller derives from event
 * time and `openedAtMs`, never a timer.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';
export type BreakerInput = 'trip' | 'reset' | 'cooldown_elapsed' | 'probe_succeeded' | 'probe_failed';

const TRANSITIONS: Readonly<Record<BreakerState, Partial<Record<BreakerInput, BreakerState>>>> = Object.freeze({
  closed: { trip: 'open', reset: 'closed' },
  open: { reset: 'closed', cooldown_elapsed: 'half_open', trip: 'open' },
  half_open: { probe_succeeded: 'closed', probe_failed: 'open', trip: 'open', reset: 'closed' },
});

export class IllegalBreakerTransition extends Error {
  readonly code = 'ILLEGAL_BREAKER_TRANSITION';
  readonly retriable = false;
  constructor(readonly from: BreakerState, readonly input: BreakerInput) {
    super(`breaker cannot take '${input}' while ${from}`);
    this.name = 'IllegalBreakerTransition';
  }
}

export interface Breaker {
  state: BreakerState;
  /** Event time of the last move to open; null while never opened. */
  openedAtMs: number | null;
}

export const closedBreaker = (): Breaker => ({ state: 'closed', openedAtMs: null });

export function move(breaker: Breaker, input: BreakerInput, atMs: number): Breaker {
  const next = TRANSITIONS[breaker.state][input];
  if (next === undefined) throw new IllegalBreakerTransition(breaker.state, input);
  return { state: next, openedAtMs: next === 'open' && breaker.state !== 'open' ? atMs : breaker.openedAtMs };
}
