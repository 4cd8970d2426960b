/**
 * The agent-scope breaker: an agent whose runs keep getting halted is suspended fleet-wide,
 * half-opens after a cooldown, lets a bounded number of probe runs through, closes when a
 * probe succeeds and reopens when one fails. The second stage of the engine: it sees an
 * agent's run signals (started, succeeded, failed, tripped) from every spawn tree, keyed by
 * tenant/agent.
 *
 * Pure: signals in, state and decisions out; time is the signals' (a cooldown elapses when a
 * signal at or after `openedAtMs + cooldownMs` arrives, from this agent or, through `tick`,
 * from any agent of the same partition). Spend counters live in the first stage and never
 * reset here.
 */
import { sha256Hex } from './sha256.js';
import { z } from 'zod';
import type { AgentSignal, ControlScope } from '../schemas/index.js';
import { closedBreaker, move, type Breaker } from './breaker.js';

export const AGENT_BREAKER = 'agent_breaker';

export const agentBreakerParams = z.object({
  /** Halted runs (any detector) within `windowMs` that open the agent's breaker. */
  tripsToOpen: z.coerce.number().int().min(1).max(10_000).default(3),
  windowMs: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  /** opossum's resetTimeout: how long the breaker stays open before half-opening. */
  cooldownMs: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  /** Runs let through while half-open; more are halted one by one. */
  probes: z.coerce.number().int().min(1).max(1_000).default(1),
});
export type AgentBreakerParams = z.output<typeof agentBreakerParams>;

/** Policy selection needs only a name and defaults: off until a tenant opts in. */
export const agentBreakerPolicy = { name: AGENT_BREAKER, defaults: null } as const;

export interface AgentState {
  tenantId: string;
  agentId: string;
  breaker: Breaker;
  /** Transitions so far: part of every decision id, so a replay yields the same ids. */
  transitions: number;
  /** Halted runs while closed, within the window: [event time, run id]. */
  trips: Array<[number, string]>;
  /** Runs admitted as probes in the current half-open spell. */
  probes: string[];
  /** Recent signal ids: a redelivered signal changes nothing. */
  seen: string[];
}

export interface AgentDecision {
  eventId: string;
  action: 'trip' | 'reset';
  scope: Extract<ControlScope, 'agent' | 'run'>;
  /** The agent id, or the run id for a run refused while half-open. */
  target: string;
  /** The run and tree of the signal that caused it (where a run-scope decision must travel). */
  runId: string;
  treeId: string;
  threshold: number;
  observed: number;
  windowMs: number | null;
  message: string;
  timeMs: number;
}

const SEEN = 256;

export function initialAgentState(tenantId: string, agentId: string): AgentState {
  return { tenantId, agentId, breaker: closedBreaker(), transitions: 0, trips: [], probes: [], seen: [] };
}

function id(state: AgentState, ...parts: Array<string | number>): string {
  return sha256Hex([AGENT_BREAKER, state.tenantId, state.agentId, ...parts].join('|')).slice(0, 32);
}

function transition(state: AgentState, input: Parameters<typeof move>[1], atMs: number): AgentState {
  return { ...state, breaker: move(state.breaker, input, atMs), transitions: state.transitions + 1 };
}

/** Half-opens a breaker whose cooldown has elapsed by `nowMs`. */
export function tick(state: AgentState, nowMs: number, params: AgentBreakerParams, cause: { runId: string; treeId: string }): { state: AgentState; decisions: AgentDecision[] } {
  if (state.breaker.state !== 'open' || nowMs < (state.breaker.openedAtMs ?? 0) + params.cooldownMs) return { state, decisions: [] };
  const next = { ...transition(state, 'cooldown_elapsed', nowMs), probes: [] };
  return {
    state: next,
    decisions: [{
      eventId: id(next, 'half_open', next.transitions), action: 'reset', scope: 'agent', target: state.agentId, ...cause,
      threshold: params.probes, observed: 0, windowMs: params.cooldownMs, timeMs: nowMs,
      message: `agent '${state.agentId}' half-open after ${params.cooldownMs / 1000} s: up to ${params.probes} probe run${params.probes === 1 ? '' : 's'} may go`,
    }],
  };
}

export function step(state: AgentState, signal: AgentSignal, params: AgentBreakerParams): { state: AgentState; decisions: AgentDecision[] } {
  if (state.seen.includes(signal.signalId)) return { state, decisions: [] };
  let current: AgentState = { ...state, seen: [...state.seen.slice(-(SEEN - 1)), signal.signalId] };
  const cause = { runId: signal.runId, treeId: signal.treeId };
  const decisions: AgentDecision[] = [];
  const t = signal.timeMs;

  const ticked = tick(current, t, params, cause);
  current = ticked.state;
  decisions.push(...ticked.decisions);

  const { state: breakerState } = current.breaker;
  if (breakerState === 'closed' && signal.kind === 'run_tripped') {
    const trips = [...current.trips.filter(([time]) => time > t - params.windowMs), [t, signal.runId] as [number, string]];
    if (trips.length < params.tripsToOpen) return { state: { ...current, trips }, decisions };
    current = { ...transition(current, 'trip', t), trips: [] };
    decisions.push({
      eventId: id(current, 'open', current.transitions), action: 'trip', scope: 'agent', target: current.agentId, ...cause,
      threshold: params.tripsToOpen, observed: trips.length, windowMs: params.windowMs, timeMs: t,
      message: `agent '${current.agentId}' had ${trips.length} runs halted within ${params.windowMs / 1000} s (last by ${signal.detail || 'a breaker'}): suspended for ${params.cooldownMs / 1000} s`,
    });
  } else if (breakerState === 'half_open') {
    const isProbe = current.probes.includes(signal.runId);
    if (signal.kind === 'run_started' && !isProbe) {
      if (current.probes.length < params.probes) {
        current = { ...current, probes: [...current.probes, signal.runId] };
      } else {
        decisions.push({
          eventId: id(current, 'probe_quota', signal.runId), action: 'trip', scope: 'run', target: signal.runId, ...cause,
          threshold: params.probes, observed: current.probes.length + 1, windowMs: null, timeMs: t,
          message: `agent '${current.agentId}' is half-open and its ${params.probes} probe run${params.probes === 1 ? ' is' : 's are'} still out`,
        });
      }
    } else if (isProbe && signal.kind === 'run_succeeded') {
      current = { ...transition(current, 'probe_succeeded', t), probes: [] };
      decisions.push({
        eventId: id(current, 'closed', current.transitions), action: 'reset', scope: 'agent', target: current.agentId, ...cause,
        threshold: params.probes, observed: 1, windowMs: null, timeMs: t,
        message: `agent '${current.agentId}' closed: probe run ${signal.runId} succeeded`,
      });
    } else if (isProbe && (signal.kind === 'run_failed' || signal.kind === 'run_tripped')) {
      current = { ...transition(current, 'probe_failed', t), probes: [] };
      decisions.push({
        eventId: id(current, 'reopen', current.transitions), action: 'trip', scope: 'agent', target: current.agentId, ...cause,
        threshold: params.probes, observed: 1, windowMs: params.cooldownMs, timeMs: t,
        message: `agent '${current.agentId}' reopened: probe run ${signal.runId} ${signal.kind === 'run_failed' ? 'failed' : `was halted by ${signal.detail || 'a breaker'}`}`,
      });
    }
  }
  return { state: current, decisions };
}
