/**
 * Group commit for concurrent requests: the log's producer keeps one request in flight (it is
 * idempotent, so per-key order holds), so requests that each sent their own spans would queue
 * behind one another. Instead, while a send is in flight the next requests' messages gather
 * and go out together in the next send; each request resolves when the send carrying its
 * messages is acknowledged (or fails with it).
 */
import type { LogProducer, OutgoingMessage } from '../../log/port.js';

interface Waiting {
  messages: OutgoingMessage[];
  done: { resolve(): void; reject(error: unknown): void };
}

export function createCoalescingSender(producer: () => Promise<LogProducer>, topic: string) {
  let waiting: Waiting[] = [];
  let inFlight = false;

  async function drain(): Promise<void> {
    inFlight = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        await (await producer()).send(topic, batch.flatMap((w) => w.messages));
        for (const w of batch) w.done.resolve();
      } catch (error) {
        for (const w of batch) w.done.reject(error);
      }
    }
    inFlight = false;
  }

  return {
    send(messages: OutgoingMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ messages, done: { resolve, reject } });
        if (!inFlight) void drain();
      });
    },
  };
}

export type CoalescingSender = ReturnType<typeof createCoalescingSender>;
