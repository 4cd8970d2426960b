/** Every detector the engine runs, in the order it evaluates them. */
import { contextCeiling } from './context-ceiling.js';
import { costVelocity, runCostVelocity } from './cost-velocity.js';
import type { Detector, DetectorName } from './detector.js';
import { failureStreak } from './failure-streak.js';
import { iterationCap } from './iteration-cap.js';
import { loop } from './loop.js';
import { scope } from './scope.js';
import { treeBudget } from './tree-budget.js';

export { DETECTOR_NAMES, type Detector, type DetectorName, type Finding } from './detector.js';

// Cheap, at-once checks first: a scope violation should be the reason reported when it coincides.
export const DETECTORS: readonly Detector[] = Object.freeze([
  scope, contextCeiling, loop, failureStreak, iterationCap, runCostVelocity, costVelocity, treeBudget,
] as Detector[]);

export const detectorByName: ReadonlyMap<DetectorName, Detector> = new Map(DETECTORS.map((d) => [d.name, d]));
