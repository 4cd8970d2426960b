/**
 * Staleness of the control plane: how long since the client last heard from it (a heartbeat
 * or a fetch of the control topic, an SSE heartbeat over HTTP). Past `boundMs` the breaker
 * board may be missing trips, and `guard()` fails open or closed as configured.
 *
 * Pure: time is passed in (the client's timer and its transport's contacts supply it), so
 * transitions are tested without waiting. A transition is reported once, each way.
 */

/** 'open': guard() keeps allowing actions (breakers already heard still hold, local checks
 *  still apply); 'closed': guard() refuses every action until the control plane is heard again. */
export type StaleMode = 'open' | 'closed';

export type StaleTransition =
  | { state: 'stale'; mode: StaleMode; silentForMs: number; boundMs: number }
  | { state: 'fresh'; mode: StaleMode; silentForMs: number; boundMs: number };

export function createStalenessWatch(options: { boundMs: number; mode: StaleMode; nowMs: number }) {
  if (!(options.boundMs > 0)) throw new RangeError(`staleAfterMs must be positive, got ${options.boundMs}`);
  let lastContactMs = options.nowMs;
  let stale = false;

  return {
    /** Heard from the control plane at `nowMs`; returns the transition back to fresh, if any. */
    contact(nowMs: number): StaleTransition | null {
      const silentForMs = nowMs - lastContactMs;
      if (nowMs > lastContactMs) lastContactMs = nowMs;
      if (!stale) return null;
      stale = false;
      return { state: 'fresh', mode: options.mode, silentForMs, boundMs: options.boundMs };
    },
    /** Checks the bound at `nowMs`; returns the transition to stale, if this is it. */
    evaluate(nowMs: number): StaleTransition | null {
      const silentForMs = nowMs - lastContactMs;
      if (stale || silentForMs <= options.boundMs) return null;
      stale = true;
      return { state: 'stale', mode: options.mode, silentForMs, boundMs: options.boundMs };
    },
    /** Read by guard(): true only while stale and failing closed. */
    get refusing(): boolean {
      return stale && options.mode === 'closed';
    },
    get stale(): boolean {
      return stale;
    },
    silentForMs(nowMs: number): number {
      return nowMs - lastContactMs;
    },
  };
}

export type StalenessWatch = ReturnType<typeof createStalenessWatch>;
