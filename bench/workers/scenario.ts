/** Runs one scenario in a fresh process and hands its figures back to bench/run.ts. */
import type { ScenarioResult } from '../lib/results.js';
import type { ScenarioRun } from '../scenarios/scenario.js';
import { workerMain } from '../lib/worker-side.js';

export interface ScenarioInput {
  name: string;
  brokers: string[];
  short: boolean;
}

workerMain<ScenarioInput, ScenarioResult>(async (input, io) => {
  const module = (await import(`../scenarios/${input.name}.js`)) as { run: ScenarioRun };
  const started = performance.now();
  const output = await module.run({ brokers: input.brokers, short: input.short, progress: io.progress });
  return { scenario: input.name, ...output, durationMs: performance.now() - started };
});
