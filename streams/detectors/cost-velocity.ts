/**
 * Cost velocity: spend over a sliding event-time window above a limit, e.g. $50/hour
 * measured over 5 minutes (a $4.17 limit per 5-minute window). One detector per scope:
 * `cost_velocity` watches a spawn tree, `run_cost_velocity` a single run; per-tenant velocity
 * is a second stage keyed by tenant.
 *
 * Late events are placed at their own event time: on each event the detector checks every
 * window that contains it, so the set of trips does not depend on arrival order. Spend older
 * than the longest window plus the lateness bound is forgotten.
 */
import { z } from 'zod';
import type { SpanEvent } from '../../schemas/index.js';
import type { Detector, Finding } from './detector.js';
import { usd } from './tree-budget.js';

export const MAX_WINDOW_MS = 3_600_000;
/** How late (in event time, behind the newest event seen) an event may arrive and still count. */
export const LATENESS_MS = 300_000;
const HOUR_MS = 3_600_000;

export interface CostVelocityParams {
  windowMs: number;
  /** Spend allowed within one window, integer micro-USD. */
  maxMicros: number;
}

export interface CostVelocityState {
  /** [event time, micro-USD], sorted by time; only events that cost something. */
  points: Array<[number, number]>;
  newestMs: number;
}

export const costVelocityParams = z
  .object({
    windowMs: z.coerce.number().int().min(1_000).max(MAX_WINDOW_MS).default(300_000),
    maxMicros: z.coerce.number().int().min(0).optional(),
    perHourMicros: z.coerce.number().int().min(0).optional(),
  })
  .refine((p) => p.maxMicros !== undefined || p.perHourMicros !== undefined, { message: 'set maxMicros (per window) or perHourMicros', path: ['maxMicros'] })
  .transform((p): CostVelocityParams => ({
    windowMs: p.windowMs,
    maxMicros: p.maxMicros ?? Math.floor(((p.perHourMicros ?? 0) * p.windowMs) / HOUR_MS),
  }));

function evolve(state: CostVelocityState, event: SpanEvent): CostVelocityState {
  const cost = event.costMicros ?? 0;
  return cost > 0 ? placeSpend(state, event.endTimeMs, cost) : state;
}

/**
 * Places `micros` spent at event time `t` in the window state (shared with the tenant stage),
 * leaving `state` as it was: a new state.
 */
export function addSpend(state: CostVelocityState, t: number, cost: number): CostVelocityState {
  if (cost <= 0) return state;
  return placeSpend({ points: state.points.slice(), newestMs: state.newestMs }, t, cost);
}

/** addSpend in place: drops what fell behind the horizon and inserts the point, in time order. */
function placeSpend(state: CostVelocityState, t: number, cost: number): CostVelocityState {
  const newestMs = Math.max(state.newestMs, t);
  const horizon = newestMs - MAX_WINDOW_MS - LATENESS_MS;
  if (t < horizon) return state; // later than the lateness bound: too late to matter
  state.newestMs = newestMs;
  const points = state.points;
  let stale = 0; // sorted by time: what is older than the horizon is a prefix
  while (stale < points.length && points[stale]![0] < horizon) stale += 1;
  if (stale > 0) points.splice(0, stale);
  let at = points.length;
  while (at > 0 && points[at - 1]![0] > t) at -= 1;
  if (at === points.length) points.push([t, cost]);
  else points.splice(at, 0, [t, cost]);
  return state;
}

/** The spend in [start, start + windowMs) of time-sorted points. */
function spendFrom(points: ReadonlyArray<readonly [number, number]>, start: number, windowMs: number): number {
  const end = start + windowMs;
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    const time = points[i]![0];
    if (time >= start && time < end) sum += points[i]![1];
  }
  return sum;
}

/** The largest spend in any window of `windowMs` that contains time `t` (points sorted by time). */
export function maxWindowSpend(points: ReadonlyArray<readonly [number, number]>, t: number, windowMs: number): number {
  const n = points.length;
  if (n === 0) return 0;
  // In order (the common case): nothing is newer than t, so the window ending at t is the
  // largest; sorted, it is a suffix of the points.
  if (points[n - 1]![0] <= t) {
    const start = t - windowMs + 1;
    let sum = 0;
    for (let i = n - 1; i >= 0 && points[i]![0] >= start; i--) sum += points[i]![1];
    return sum;
  }
  let max = 0;
  for (let i = 0; i < n; i++) {
    const time = points[i]![0];
    if (time > t - windowMs && time <= t) max = Math.max(max, spendFrom(points, time, windowMs));
  }
  return max;
}

function create(name: 'cost_velocity' | 'run_cost_velocity', stateScope: 'tree' | 'run'): Detector<CostVelocityState, CostVelocityParams> {
  return {
    name,
    stateScope,
    params: costVelocityParams,
    defaults: null,
    initialState: () => ({ points: [], newestMs: 0 }),
    evolve,
    decide(state, event, p): Finding | null {
      if ((event.costMicros ?? 0) <= 0) return null;
      const spend = maxWindowSpend(state.points, event.endTimeMs, p.windowMs);
      if (spend <= p.maxMicros) return null;
      return { threshold: p.maxMicros, observed: spend, windowMs: p.windowMs, message: `${stateScope === 'tree' ? 'spawn tree' : 'run'} spent ${usd(spend)} within ${p.windowMs / 1000} s, above the limit of ${usd(p.maxMicros)}` };
    },
  };
}

export const costVelocity = create('cost_velocity', 'tree');
export const runCostVelocity = create('run_cost_velocity', 'run');
