/**
 * What one batch of a stream stage did, counted as it is folded and added to the service's
 * Prometheus counters only once its transaction commits (a batch retried or re-read after a
 * crash is counted once, like everything else it produced).
 */
import type { Metrics } from './metrics.js';

export interface BatchTally {
  deadLetter(code: string): void;
  trip(detector: string): void;
  /** The callback for StageOutput.onCommit; undefined without metrics. `published` gives per
   *  topic the messages or just how many (a caller need not keep its rows alive to be counted). */
  onCommit(metrics: Metrics | undefined, kind: string, received: number, published: ReadonlyArray<readonly [topic: string, messages: readonly unknown[] | number]>): (() => void) | undefined;
}

export function batchTally(): BatchTally {
  const dead = new Map<string, number>();
  const trips = new Map<string, number>();
  const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  return {
    deadLetter: (code) => bump(dead, code),
    trip: (detector) => bump(trips, detector),
    onCommit: (metrics, kind, received, published) => metrics && (() => {
      metrics.eventsIn.inc({ kind }, received);
      for (const [topic, messages] of published) {
        const count = typeof messages === 'number' ? messages : messages.length;
        if (count > 0) metrics.eventsOut.inc({ topic }, count);
      }
      for (const [code, count] of dead) metrics.deadLetters.inc({ code }, count);
      for (const [detector, count] of trips) metrics.trips.inc({ detector }, count);
    }),
  };
}
