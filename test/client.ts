/** Helpers for tests that drive a real agent client. */
import { RunHalted, type Run } from '../client/index.js';

/** Why the run is halted now (what its next action would throw), or undefined while it may go on. */
export function haltOf(run: Run, next?: Parameters<Run['guard']>[0]): RunHalted | undefined {
  try {
    run.guard(next);
    return undefined;
  } catch (error) {
    if (error instanceof RunHalted) return error;
    throw error;
  }
}

/** The same as null-or-refusal, for tests that compare with null. */
export const refusal = (run: Run, next?: Parameters<Run['guard']>[0]): RunHalted | null => haltOf(run, next) ?? null;
