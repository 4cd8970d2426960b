/**
 * Non-blocking span emission: `push` only appends to a bounded buffer; a single-concurrency
 * p-queue flushes it in batches (when `batchSize` spans wait, or after `lingerMs`). While the
 * log is unreachable the buffer holds up to `maxBuffered` spans, then drops the oldest and
 * counts them: an agent is never slowed or crashed by its governance.
 */
import PQueue from 'p-queue';
import type { LogProducer, OutgoingMessage } from '../log/port.js';

export interface EmitterOptions {
  topic: string;
  batchSize: number;
  lingerMs: number;
  maxBuffered: number;
  onSendError(error: Error, spans: number): void;
}

export interface EmitterStats {
  sent: number;
  dropped: number;
  buffered: number;
  sendErrors: number;
}

export function createEmitter(producer: LogProducer, options: EmitterOptions) {
  const queue = new PQueue({ concurrency: 1 });
  let buffer: OutgoingMessage[] = [];
  let timer: NodeJS.Timeout | null = null;
  const stats: EmitterStats = { sent: 0, dropped: 0, buffered: 0, sendErrors: 0 };

  function schedule(): void {
    if (buffer.length >= options.batchSize) {
      if (timer) { clearTimeout(timer); timer = null; }
      void queue.add(flushOnce);
    } else if (!timer) {
      timer = setTimeout(() => { timer = null; void queue.add(flushOnce); }, options.lingerMs);
      timer.unref();
    }
  }

  async function flushOnce(): Promise<void> {
    if (buffer.length === 0) return;
    const batch = buffer.slice(0, options.batchSize);
    try {
      await producer.send(options.topic, batch);
      buffer = buffer.slice(batch.length);
      stats.sent += batch.length;
    } catch (error) {
      // Keep the batch for the next attempt; the bound below sheds the oldest if this lasts.
      stats.sendErrors += 1;
      options.onSendError(error as Error, batch.length);
      if (!timer) {
        timer = setTimeout(() => { timer = null; void queue.add(flushOnce); }, Math.max(options.lingerMs, 250));
        timer.unref();
      }
      return;
    }
    if (buffer.length > 0) schedule();
  }

  return {
    push(message: OutgoingMessage): void {
      buffer.push(message);
      if (buffer.length > options.maxBuffered) {
        const excess = buffer.length - options.maxBuffered;
        buffer.splice(0, excess);
        stats.dropped += excess;
      }
      schedule();
    },
    /** Sends everything buffered; gives up at the deadline and reports what is left. */
    async flush(deadlineMs: number): Promise<{ unsent: number }> {
      if (timer) { clearTimeout(timer); timer = null; }
      const until = Date.now() + deadlineMs;
      while (buffer.length > 0 && Date.now() < until) {
        const before = stats.sent;
        await Promise.race([queue.add(flushOnce), new Promise((ok) => setTimeout(ok, Math.max(0, until - Date.now())).unref())]);
        if (stats.sent === before && buffer.length > 0) await new Promise((ok) => setTimeout(ok, 50));
      }
      return { unsent: buffer.length };
    },
    stats(): EmitterStats {
      return { ...stats, buffered: buffer.length };
    },
  };
}

export type Emitter = ReturnType<typeof createEmitter>;
