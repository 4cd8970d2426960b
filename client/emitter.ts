/**
 * Non-blocking span emission: `push` only appends to a bounded buffer; a single-concurrency
 * p-queue flushes it in batches (when `batchSize` spans wait, or after `lingerMs`). While the
 * transport is unreachable the buffer holds up to `maxBuffered` spans, then drops the oldest and
 * counts them: an agent is never slowed or crashed by its governance.
 *
 * A batch being sent is taken out of the buffer, not copied: a send that fails after the
 * broker got the batch may still deliver it, so a span in flight is never counted as dropped,
 * and the drop-oldest bound only sheds spans that have not left. `sent + dropped + held` is
 * always what was pushed, so the count reported as dropped is exact.
 */
import PQueue from 'p-queue';

export interface EmitterOptions<T> {
  batchSize: number;
  lingerMs: number;
  /** Spans held at once, in flight included. */
  maxBuffered: number;
  /** Resolves once the transport has the batch; throws to keep it for a retry. */
  send(batch: T[]): Promise<void>;
  onSendError(error: Error, spans: number): void;
  /** Wait after a failed send before the next attempt. Default max(lingerMs, 250). */
  retryMs?: number;
  /** The transport's own hint for a failure (an HTTP Retry-After), overriding `retryMs`. */
  retryAfter?(error: unknown): number | undefined;
}

export interface EmitterStats {
  sent: number;
  dropped: number;
  /** Waiting or in flight. */
  buffered: number;
  sendErrors: number;
}

export function createEmitter<T>(options: EmitterOptions<T>) {
  if (options.maxBuffered < 1 || options.batchSize < 1) throw new RangeError(`batchSize (${options.batchSize}) and maxBuffered (${options.maxBuffered}) must be at least 1`);
  const queue = new PQueue({ concurrency: 1 });
  const retryMs = options.retryMs ?? Math.max(options.lingerMs, 250);
  let waiting: T[] = [];
  let inFlight: T[] = [];
  let timer: NodeJS.Timeout | null = null;
  /** After a failed send, no attempt before this (Date.now ms): the retry wait, or the transport's Retry-After. */
  let resumeAt = 0;
  const stats: EmitterStats = { sent: 0, dropped: 0, buffered: 0, sendErrors: 0 };

  function later(ms: number): void {
    if (timer) return;
    timer = setTimeout(() => { timer = null; void queue.add(flushOnce); }, ms);
    timer.unref();
  }

  function schedule(): void {
    // Backing off: a full batch waits like the rest (the failure already set the retry timer).
    const backoff = resumeAt - Date.now();
    if (backoff > 0) {
      later(backoff);
      return;
    }
    if (waiting.length >= options.batchSize) {
      if (timer) { clearTimeout(timer); timer = null; }
      // One flush queued at a time is enough: it re-schedules itself while spans wait.
      if (queue.size === 0) void queue.add(flushOnce);
    } else {
      later(options.lingerMs);
    }
  }

  async function flushOnce(): Promise<void> {
    if (waiting.length === 0) return;
    // A linger timer set before a failure may fire inside its backoff: wait out the rest.
    const backoff = resumeAt - Date.now();
    if (backoff > 0) {
      later(backoff);
      return;
    }
    inFlight = waiting.length <= options.batchSize ? waiting : waiting.slice(0, options.batchSize);
    waiting = inFlight === waiting ? [] : waiting.slice(inFlight.length);
    try {
      await options.send(inFlight);
      stats.sent += inFlight.length;
      inFlight = [];
    } catch (error) {
      // Back to the front, oldest first; nothing was pushed past the bound meanwhile, as the
      // bound counts what is in flight.
      const failed = inFlight.length;
      waiting = inFlight.concat(waiting);
      inFlight = [];
      stats.sendErrors += 1;
      options.onSendError(error as Error, failed);
      const wait = options.retryAfter?.(error) ?? retryMs;
      resumeAt = Date.now() + wait;
      if (timer) { clearTimeout(timer); timer = null; }
      later(wait);
      return;
    }
    if (waiting.length > 0) schedule();
  }

  return {
    push(item: T): void {
      waiting.push(item);
      const excess = waiting.length + inFlight.length - options.maxBuffered;
      if (excess > 0) {
        waiting.splice(0, excess);
        stats.dropped += excess;
      }
      schedule();
    },
    /** Sends everything held; gives up at the deadline and reports what is left. */
    async flush(deadlineMs: number): Promise<{ unsent: number }> {
      if (timer) { clearTimeout(timer); timer = null; }
      const until = Date.now() + deadlineMs;
      while (waiting.length + inFlight.length > 0 && Date.now() < until) {
        // Closing honours the backoff too (a gateway's Retry-After), within the deadline.
        const backoff = Math.min(resumeAt, until) - Date.now();
        if (backoff > 0) {
          await new Promise((ok) => setTimeout(ok, backoff));
          continue;
        }
        await Promise.race([queue.add(flushOnce), new Promise((ok) => setTimeout(ok, Math.max(0, until - Date.now())).unref())]);
      }
      if (timer) { clearTimeout(timer); timer = null; }
      return { unsent: waiting.length + inFlight.length };
    },
    stats(): EmitterStats {
      return { ...stats, buffered: waiting.length + inFlight.length };
    },
  };
}

export type Emitter<T> = ReturnType<typeof createEmitter<T>>;
