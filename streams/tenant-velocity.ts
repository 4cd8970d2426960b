/**
 * Tenant cost velocity: a tenant's spend over a sliding event-time window, across all its
 * agents and spawn trees, above a limit halts every run of the tenant until the trailing window
 * is back under the limit. The second stage keyed by tenant: it folds per-batch spend summaries
 * (TenantSpend) from the processor. Pure; time is the events'.
 *
 * Unlike run and tree breakers (open until reset), this one closes by itself: a rate limit,
 * not a verdict on an agent. It closes when a summary shows the window ending at the newest
 * event time within the limit; summaries come even without spend, so time moves on while the
 * tenant's runs are halted.
 */
import { sha256Hex } from './sha256.js';
import type { TenantSpend } from '../schemas/index.js';
import { closedBreaker, move, type Breaker } from './breaker.js';
import { addSpend, maxWindowSpend, type CostVelocityParams, type CostVelocityState } from './detectors/cost-velocity.js';
import { usd } from './detectors/tree-budget.js';

export const TENANT_COST_VELOCITY = 'tenant_cost_velocity';
/** Policy selection needs only a name and defaults: off until a tenant sets a limit. */
export const tenantVelocityPolicy = { name: TENANT_COST_VELOCITY, defaults: null } as const;

export interface TenantState {
  tenantId: string;
  window: CostVelocityState;
  /** The newest event time seen, spend or not. */
  newestMs: number;
  breaker: Breaker;
  transitions: number;
  seen: string[];
}

export interface TenantDecision {
  eventId: string;
  action: 'trip' | 'reset';
  threshold: number;
  observed: number;
  windowMs: number;
  message: string;
  timeMs: number;
}

const SEEN = 256;

export function initialTenantState(tenantId: string): TenantState {
  return { tenantId, window: { points: [], newestMs: 0 }, newestMs: 0, breaker: closedBreaker(), transitions: 0, seen: [] };
}

export function step(state: TenantState, summary: TenantSpend, params: CostVelocityParams): { state: TenantState; decisions: TenantDecision[] } {
  if (state.seen.includes(summary.signalId)) return { state, decisions: [] };
  let window = state.window;
  for (const point of summary.spend) window = addSpend(window, point.timeMs, point.micros);
  const newestMs = Math.max(state.newestMs, summary.latestMs, window.newestMs);
  let next: TenantState = { ...state, window, newestMs, seen: [...state.seen.slice(-(SEEN - 1)), summary.signalId] };
  const decide = (action: 'trip' | 'reset', observed: number, timeMs: number, message: string): TenantDecision[] => {
    next = { ...next, breaker: move(next.breaker, action, timeMs), transitions: next.transitions + 1 };
    const eventId = sha256Hex(`${TENANT_COST_VELOCITY}|${state.tenantId}|${next.transitions}`).slice(0, 32);
    return [{ eventId, action, threshold: params.maxMicros, observed, windowMs: params.windowMs, message, timeMs }];
  };

  if (next.breaker.state === 'closed') {
    // Every window containing a new point is checked, so late summaries count as on time.
    let worst = 0;
    let at = 0;
    for (const point of summary.spend) {
      const spend = maxWindowSpend(window.points, point.timeMs, params.windowMs);
      if (spend > worst) { worst = spend; at = point.timeMs; }
    }
    if (worst > params.maxMicros) {
      const decisions = decide('trip', worst, at, `tenant '${state.tenantId}' spent ${usd(worst)} within ${params.windowMs / 1000} s, above its limit of ${usd(params.maxMicros)}: every run halted until the rate is back under it`);
      return { state: next, decisions };
    }
  } else {
    const trailing = maxWindowSpend(window.points.filter(([t]) => t <= newestMs), newestMs, params.windowMs);
    if (trailing <= params.maxMicros) {
      const decisions = decide('reset', trailing, newestMs, `tenant '${state.tenantId}' spend over the last ${params.windowMs / 1000} s is ${usd(trailing)}, back under ${usd(params.maxMicros)}: runs may go on`);
      return { state: next, decisions };
    }
  }
  return { state: next, decisions: [] };
}
