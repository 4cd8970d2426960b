/**
 * The shape every detector has: a decider over span events.
 *
 * - `evolve(state, event)` folds an event into state. It takes no policy, so state rebuilt
 *   from the log (restoring after a crash or a rebalance) does not depend on which policy
 *   was in force, and a policy change applies to the very next event. It may update the state
 *   it is given in place and return it, so the per-event path allocates nothing: the caller
 *   hands the state over and uses only what evolve returns (the engine owns its states; a
 *   test that needs the state before the event as well copies it first).
 * - States are plain, bounded JSON data (the processor's changelog embeds them); `revive`
 *   brings one read back from an older build to this build's shape.
 * - `decide(state, event, params)` reads the evolved state and says whether this event crosses
 *   the policy's threshold.
 *
 * No clock and no I/O: time is the event's. State belongs to a run or to a spawn tree
 * (`stateScope`), which is also the breaker a finding opens.
 */
import type { z } from 'zod';
import type { SpanEvent } from '../../schemas/index.js';

export const DETECTOR_NAMES = ['loop', 'failure_streak', 'cost_velocity', 'run_cost_velocity', 'iteration_cap', 'tree_budget', 'scope', 'context_ceiling'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

export interface Finding {
  threshold: number;
  observed: number;
  windowMs: number | null;
  message: string;
}

export interface Detector<S = unknown, P = unknown> {
  readonly name: DetectorName;
  readonly stateScope: 'run' | 'tree';
  /** Parses a policy's string parameters (PolicyEvent.params) into typed ones. */
  readonly params: z.ZodType<P>;
  /** Built-in parameters protecting a tenant that wrote no policy; null: off until a policy sets it. */
  readonly defaults: Readonly<P> | null;
  /** null: the detector keeps no state (it decides on the event alone) and is never evolved. */
  initialState(): S;
  /** May mutate `state` and return it: the caller must use only the returned state afterwards. */
  evolve(state: S, event: SpanEvent): S;
  decide(state: S, event: SpanEvent, params: P): Finding | null;
  /**
   * A state read back from JSON (the changelog), checked and brought to this build's shape
   * (a state of an earlier shape converted); throws, naming what is wrong, if it is neither.
   * Absent: the JSON is used as it is.
   */
  revive?(raw: unknown): S;
}

/** Operations whose outcome is a step's outcome: what streaks and scopes are about. */
export function isOperation(event: SpanEvent): boolean {
  return event.kind === 'tool_call' || event.kind === 'llm_call' || event.kind === 'retrieval';
}
