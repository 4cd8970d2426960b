/** What a scenario measures and hands back: figures, plain data so they cross process boundaries. */
import type { Distribution } from './stats.js';

export type Unit = 'msgs/s' | 'events/s' | 'rows/s' | 'spans/s' | 'ms' | 'ns/op' | 'ns/span' | 'µs/span' | 'MiB' | 'MiB/s' | 'bytes' | 'ratio' | 'count' | '%';

export interface Figure {
  metric: string;
  /** The headline value: a rate, a size, a count, or the mean of a distribution. */
  value: number;
  unit: Unit;
  /** Present for latencies and per-operation costs: p50 / p99 / max of the samples. */
  distribution?: Distribution;
  /** How it was measured, in a few words (batch size, concurrency, log). */
  note?: string;
  /** A target from issue 6 this figure is judged against, e.g. `p99 < 100 ms`, and whether it was met. */
  target?: string;
  met?: boolean;
}

export interface ScenarioResult {
  scenario: string;
  figures: Figure[];
  /** Sentences for the report: checks that passed or failed, caveats. */
  notes: string[];
  durationMs: number;
  /** The code this scenario measured, read when it started: others commit while a run goes on. */
  commit?: string;
}

export function figure(metric: string, value: number, unit: Unit, note?: string): Figure {
  return note === undefined ? { metric, value, unit } : { metric, value, unit, note };
}

/** A latency or per-op cost: the mean as the headline, p50 / p99 / max beside it. */
export function latencyFigure(metric: string, samples: Distribution, unit: Unit, note?: string): Figure {
  const result: Figure = { metric, value: samples.mean, unit, distribution: samples };
  if (note !== undefined) result.note = note;
  return result;
}
