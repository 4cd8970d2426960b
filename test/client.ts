/** Helpers for tests that drive a real agent client. */
import { RunHalted, type Run } from '../client/index.js';

/** Why the run is halted now (what its next action would throw), or undefined while it may go on. */
export function haltOf(run: Run): RunHalted | undefined {
  try {
    run.guard();
    return undefined;
  } catch (error) {
    if (error instanceof RunHalted) return error;
    throw error;
  }
}
