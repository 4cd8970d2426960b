/**
 * The gateway's brakes, with time decided by the test: the per-key token bucket (burst, refill,
 * Retry-After, keys independent, idle buckets forgotten) and the bound on spans in flight.
 */
import { describe, expect, it } from 'vitest';
import { createBacklog, createRateLimiter } from './limits.js';

function clockAt(startMs: number) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => { nowMs += ms; } };
}

describe('the rate limiter', () => {
  it('allows the burst at once, then one request per token as they come back', () => {
    const clock = clockAt(0);
    const rate = createRateLimiter({ perSecond: 2, burst: 3 }, clock.now);
    expect([rate.take('k'), rate.take('k'), rate.take('k')].every((d) => d.allowed)).toBe(true);
    expect(rate.take('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(499);
    expect(rate.take('k').allowed).toBe(false); // 0.998 of a token
    clock.advance(1);
    expect(rate.take('k').allowed).toBe(true);
    expect(rate.take('k').allowed).toBe(false);
  });

  it('answers Retry-After as the whole seconds until the next token, at least 1', () => {
    const clock = clockAt(0);
    const slow = createRateLimiter({ perSecond: 0.25, burst: 1 }, clock.now);
    expect(slow.take('k').allowed).toBe(true);
    expect(slow.take('k')).toEqual({ allowed: false, retryAfterSeconds: 4 });
    clock.advance(1_000);
    expect(slow.take('k')).toEqual({ allowed: false, retryAfterSeconds: 3 });
  });

  it('keeps each key to its own bucket', () => {
    const rate = createRateLimiter({ perSecond: 1, burst: 1 }, clockAt(0).now);
    expect([rate.take('a').allowed, rate.take('a').allowed, rate.take('b').allowed]).toEqual([true, false, true]);
  });

  it('never refills beyond the burst, however long a key was quiet', () => {
    const clock = clockAt(0);
    const rate = createRateLimiter({ perSecond: 10, burst: 2 }, clock.now);
    rate.take('k');
    clock.advance(3_600_000);
    expect([rate.take('k'), rate.take('k'), rate.take('k')].map((d) => d.allowed)).toEqual([true, true, false]);
  });

  it('forgets buckets that are full again at its sweep, so a quiet key costs no memory but keeps its limit', () => {
    const clock = clockAt(0);
    const rate = createRateLimiter({ perSecond: 1, burst: 1 }, clock.now);
    rate.take('quiet');
    clock.advance(60_000);
    rate.take('busy'); // the sweep runs; 'quiet' is full again and dropped
    expect([rate.take('quiet').allowed, rate.take('quiet').allowed]).toEqual([true, false]);
  });
});

describe('the backlog', () => {
  it('admits while under its bound, counts admitted spans until released', () => {
    const backlog = createBacklog(10);
    expect(backlog.admit(8)).toBe(true);
    expect(backlog.admit(5)).toBe(true); // under the bound when asked: a batch is never split
    expect(backlog.pending).toBe(13);
    expect(backlog.admit(1)).toBe(false);
    backlog.release(8);
    expect([backlog.pending, backlog.admit(1)]).toEqual([5, true]);
  });

  it('with a bound of 0 admits nothing (a draining gateway), and never goes below 0', () => {
    const backlog = createBacklog(0);
    expect(backlog.admit(1)).toBe(false);
    backlog.release(5);
    expect(backlog.pending).toBe(0);
  });
});
