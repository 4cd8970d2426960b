import type { SpanEvent } from '../schemas/index.js';
import type { Detector, Finding } from '../streams/detectors/index.js';

/** given events, when folded through one detector with `params`, then each event's finding. */
export function foldDetector<S, P>(detector: Detector<S, P>, events: SpanEvent[], params: P): { state: S; findings: Array<Finding | null> } {
  let state = detector.initialState();
  const findings: Array<Finding | null> = [];
  for (const event of events) {
    state = detector.evolve(state, event);
    findings.push(detector.decide(state, event, params));
  }
  return { state, findings };
}

/** The observed value of the last event's finding, or null when it did not cross the line. */
export const lastObserved = (result: { findings: Array<Finding | null> }) => result.findings.at(-1)?.observed ?? null;
