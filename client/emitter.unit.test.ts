import { describe, expect, it } from 'vitest';
import { createEmitter } from './emitter.js';

/** A transport that is down until `up()` and records every batch it accepted. */
function flakyTransport() {
  const delivered: number[][] = [];
  let available = false;
  let attempts = 0;
  return {
    delivered,
    get attempts() { return attempts; },
    up() { available = true; },
    down() { available = false; },
    async send(batch: number[]) {
      attempts += 1;
      await new Promise((ok) => setTimeout(ok, 1));
      if (!available) throw new Error('broker unreachable');
      delivered.push([...batch]);
    },
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 2_000 && !check(); i++) await new Promise((ok) => setTimeout(ok, 2));
  expect(check()).toBe(true);
};

describe('emitter', () => {
  it('given a reachable transport, sends in batches of batchSize, in order', async () => {
    const transport = flakyTransport();
    transport.up();
    const emitter = createEmitter({ batchSize: 4, lingerMs: 1, maxBuffered: 100, send: transport.send, onSendError() {} });
    for (let i = 0; i < 10; i++) emitter.push(i);
    await emitter.flush(1_000);
    expect(transport.delivered.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...transport.delivered.map((b) => b.length))).toBe(4);
    expect(emitter.stats()).toMatchObject({ sent: 10, dropped: 0, buffered: 0 });
  });

  it('given an outage, keeps everything within the bound and sends it once the transport is back', async () => {
    const transport = flakyTransport();
    const errors: number[] = [];
    const emitter = createEmitter({ batchSize: 3, lingerMs: 1, maxBuffered: 10, retryMs: 5, send: transport.send, onSendError: (_e, n) => errors.push(n) });
    for (let i = 0; i < 10; i++) emitter.push(i);
    await until(() => transport.attempts >= 3);
    expect(emitter.stats()).toMatchObject({ dropped: 0, buffered: 10, sent: 0 });
    transport.up();
    await emitter.flush(2_000);
    expect(transport.delivered.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(errors.every((n) => n === 3)).toBe(true);
  });

  it('given an outage beyond the bound, drops the oldest not in flight and counts exactly what it dropped', async () => {
    const transport = flakyTransport();
    const emitter = createEmitter({ batchSize: 2, lingerMs: 1, maxBuffered: 5, retryMs: 5, send: transport.send, onSendError() {} });
    emitter.push(0);
    emitter.push(1);
    await until(() => transport.attempts >= 1); // [0, 1] failed once and came back to the front
    for (let i = 2; i < 12; i++) emitter.push(i);
    const { dropped } = emitter.stats();
    transport.up();
    await emitter.flush(2_000);
    const delivered = transport.delivered.flat();
    expect(dropped).toBe(7);
    expect(delivered.length + dropped).toBe(12);
    // Whatever was dropped is older than whatever was kept, apart from a batch that was in flight.
    expect(delivered.slice(-3)).toEqual([9, 10, 11]);
    expect(emitter.stats()).toMatchObject({ sent: 5, dropped: 7, buffered: 0 });
  });

  it('never counts a span in flight as dropped, even when the bound is hit while it is being sent', async () => {
    const releases: Array<() => void> = [];
    const delivered: number[] = [];
    const emitter = createEmitter<number>({
      batchSize: 3, lingerMs: 1, maxBuffered: 4,
      send: async (batch) => { await new Promise<void>((ok) => releases.push(ok)); delivered.push(...batch); },
      onSendError() {},
    });
    for (let i = 0; i < 3; i++) emitter.push(i);
    await until(() => releases.length === 1); // [0, 1, 2] in flight
    for (let i = 3; i < 8; i++) emitter.push(i); // room for one beside the three in flight
    expect(emitter.stats()).toMatchObject({ dropped: 4, buffered: 4 });
    releases[0]!();
    const flushing = emitter.flush(1_000);
    await until(() => releases.length === 2);
    releases[1]!();
    await flushing;
    expect(delivered).toEqual([0, 1, 2, 7]);
    expect(emitter.stats()).toMatchObject({ sent: 4, dropped: 4, buffered: 0 });
  });

  it('close with a deadline reports what it could not send', async () => {
    const transport = flakyTransport();
    const emitter = createEmitter({ batchSize: 2, lingerMs: 1, maxBuffered: 50, retryMs: 5, send: transport.send, onSendError() {} });
    for (let i = 0; i < 7; i++) emitter.push(i);
    const started = Date.now();
    expect(await emitter.flush(200)).toEqual({ unsent: 7 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("waits out the transport's Retry-After even when a full batch is waiting, and so does close", async () => {
    const attempts: number[] = [];
    let refuse = true;
    const retryAfterMs = 300;
    const emitter = createEmitter({
      batchSize: 2, lingerMs: 1, maxBuffered: 100,
      send: async () => {
        attempts.push(Date.now());
        if (refuse) throw new Error('429');
      },
      onSendError() {},
      retryAfter: () => retryAfterMs,
    });
    emitter.push(0);
    emitter.push(1); // a full batch: sent at once, refused
    await until(() => attempts.length === 1);
    for (let i = 2; i < 8; i++) emitter.push(i); // full batches keep arriving during the wait
    await new Promise((ok) => setTimeout(ok, 100));
    expect(attempts).toHaveLength(1);
    await until(() => attempts.length === 2); // the retry, once the wait is over
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(retryAfterMs - 5);
    const { unsent } = await emitter.flush(1_000); // close: refused again, each attempt spaced by the wait
    expect(unsent).toBe(8);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(retryAfterMs - 5);
    refuse = false;
    expect(await emitter.flush(2_000)).toEqual({ unsent: 0 });
  });

  it('refuses a bound below one span', () => {
    expect(() => createEmitter({ batchSize: 1, lingerMs: 1, maxBuffered: 0, send: async () => {}, onSendError() {} })).toThrow(/maxBuffered \(0\) must be at least 1/);
  });
});
