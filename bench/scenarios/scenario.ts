/** The shape every scenario module has, and what it is given to run. */
import type { Figure } from '../lib/results.js';

export interface BenchContext {
  brokers: string[];
  /** Short mode: smaller sizes and durations, for a quick check in well under 3 minutes. */
  short: boolean;
  progress(line: string): void;
}

export interface ScenarioOutput {
  figures: Figure[];
  notes: string[];
}

export type ScenarioRun = (ctx: BenchContext) => Promise<ScenarioOutput>;

/** Picks the full-mode or the short-mode value: every size and duration is chosen this way. */
export function sized<T>(ctx: BenchContext, full: T, short: T): T {
  return ctx.short ? short : full;
}
