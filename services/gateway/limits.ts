/**
 * The gateway's two brakes, pure and clock-injected so tests decide time:
 * - a token bucket per API key (429 when empty, Retry-After = time to the next token);
 * - a bound on spans accepted but not yet acknowledged by the log (503 when reached), so a
 *   slow or unreachable broker turns into back-pressure on agents instead of a gateway that
 *   buffers until it runs out of memory.
 */

export interface RateLimit {
  /** Requests per second, sustained. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Buckets are forgotten once full again (a key that went quiet costs no memory). */
export function createRateLimiter(limit: RateLimit, clock: () => number) {
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  let lastSweepMs = clock();

  function refill(bucket: { tokens: number; atMs: number }, nowMs: number): void {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * limit.perSecond);
    bucket.atMs = nowMs;
  }

  function sweep(nowMs: number): void {
    if (nowMs - lastSweepMs < 60_000) return;
    lastSweepMs = nowMs;
    for (const [key, bucket] of buckets) {
      refill(bucket, nowMs);
      if (bucket.tokens >= limit.burst) buckets.delete(key);
    }
  }

  return {
    take(key: string): RateDecision {
      const nowMs = clock();
      sweep(nowMs);
      let bucket = buckets.get(key);
      if (!bucket) {
        bucket = { tokens: limit.burst, atMs: nowMs };
        buckets.set(key, bucket);
      } else {
        refill(bucket, nowMs);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond)) };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/**
 * Spans in flight to the log. A request is admitted while fewer than `maxPending` are in
 * flight; it then counts its spans until the log acknowledges (or refuses) them. A bound of 0
 * admits nothing: a gateway configured to drain.
 */
export function createBacklog(maxPending: number) {
  let pending = 0;
  return {
    /** Reserves room for `spans`; false when the gateway is over its bound. */
    admit(spans: number): boolean {
      if (pending >= maxPending) return false;
      pending += spans;
      return true;
    },
    release(spans: number): void {
      pending = Math.max(0, pending - spans);
    },
    get pending(): number {
      return pending;
    },
  };
}

export type Backlog = ReturnType<typeof createBacklog>;
