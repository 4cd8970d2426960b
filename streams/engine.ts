/**
 * The breaker engine: folds span events, tree by tree, through the detectors and the breakers
 * and says which control events and audit records follow. Pure: no clock (time is the
 * triggering event's), no I/O; the processor shell feeds it and publishes what it returns.
 *
 * State is per spawn tree because spans are partitioned by tree id: one engine instance sees
 * every event of the trees its partitions carry, so ledgers and streaks are local.
 */
import { createHash } from 'node:crypto';
import type { BreakerEvent, ControlEvent, SpanEvent } from '../schemas/index.js';
import { closedBreaker, move, type Breaker } from './breaker.js';
import type { Decision, PolicyRef } from './decision.js';
import * as loop from './detectors/loop.js';
import { builtinPolicies, type PolicySource } from './policies.js';

export interface RunLedger {
  agentId: string;
  /** Actions taken: every span but run_start and run_end. */
  steps: number;
  costMicros: number;
  loop: loop.LoopState;
}

export interface TreeLedger {
  tenantId: string;
  treeId: string;
  costMicros: number;
  runs: Map<string, RunLedger>;
  /** Keyed `scope:target`. Absent means closed. */
  breakers: Map<string, Breaker>;
  /** Event ids already folded, so a redelivered event changes nothing. Bounded. */
  seen: Set<string>;
}

export interface Outcome {
  controls: ControlEvent[];
  audits: BreakerEvent[];
}

export interface EngineOptions {
  policies?: PolicySource;
  /** Event ids remembered per tree for deduplication. */
  dedupeWindow?: number;
}

const NOTHING: Outcome = Object.freeze({ controls: [], audits: [] }) as Outcome;

export function createEngine(options: EngineOptions = {}) {
  const policies = options.policies ?? builtinPolicies;
  const dedupeWindow = options.dedupeWindow ?? 4096;
  const trees = new Map<string, TreeLedger>();

  function ledgerFor(event: SpanEvent): TreeLedger {
    let tree = trees.get(event.treeId);
    if (!tree) {
      tree = { tenantId: event.tenantId, treeId: event.treeId, costMicros: 0, runs: new Map(), breakers: new Map(), seen: new Set() };
      trees.set(event.treeId, tree);
    }
    return tree;
  }

  /** Folds the event in; returns the run's ledger, or null for a duplicate. */
  function evolve(event: SpanEvent): { tree: TreeLedger; run: RunLedger } | null {
    const tree = ledgerFor(event);
    if (tree.seen.has(event.eventId)) return null;
    tree.seen.add(event.eventId);
    if (tree.seen.size > dedupeWindow) tree.seen.delete(tree.seen.values().next().value as string);

    let run = tree.runs.get(event.runId);
    if (!run) {
      run = { agentId: event.agentId, steps: 0, costMicros: 0, loop: loop.initialState() };
      tree.runs.set(event.runId, run);
    }
    const cost = event.costMicros ?? 0;
    if (event.kind !== 'run_start' && event.kind !== 'run_end') run.steps += 1;
    run.costMicros += cost;
    tree.costMicros += cost;
    run.loop = loop.evolve(run.loop, event);
    return { tree, run };
  }

  function decide(tree: TreeLedger, run: RunLedger, event: SpanEvent): Outcome {
    if (isOpen(tree, 'run', event.runId) || isOpen(tree, 'tree', event.treeId)) return NOTHING; // one trip per episode
    const governing = policies.loop(event.tenantId, event.agentId);
    const decisions = loop.decide(run.loop, event, governing.policy);
    if (decisions.length === 0) return NOTHING;
    const outcome: Outcome = { controls: [], audits: [] };
    for (const decision of decisions) {
      const target = decision.scope === 'run' ? event.runId : decision.scope === 'tree' ? event.treeId : decision.scope === 'agent' ? event.agentId : event.tenantId;
      const key = `${decision.scope}:${target}`;
      tree.breakers.set(key, move(tree.breakers.get(key) ?? closedBreaker(), 'trip', event.endTimeMs));
      outcome.controls.push(controlFor(decision, target, event, governing.ref));
      outcome.audits.push(auditFor(decision, target, event, governing.ref, tree, run));
    }
    return outcome;
  }

  return {
    /** Evolve and decide: the live path. */
    apply(event: SpanEvent): Outcome {
      const folded = evolve(event);
      return folded ? decide(folded.tree, folded.run, event) : NOTHING;
    },
    /** Evolve only: rebuilding state from the log without re-emitting decisions. */
    restore(event: SpanEvent): void {
      evolve(event);
    },
    tree(treeId: string): Readonly<TreeLedger> | undefined {
      return trees.get(treeId);
    },
    get treeCount(): number {
      return trees.size;
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;

function isOpen(tree: TreeLedger, scope: string, target: string): boolean {
  const breaker = tree.breakers.get(`${scope}:${target}`);
  return breaker !== undefined && breaker.state !== 'closed';
}

/** Deterministic: the same trigger always yields the same id, so a replayed trip is a duplicate. */
function tripId(decision: Decision, target: string, trigger: SpanEvent): string {
  return createHash('sha256').update(`${decision.detector}|${decision.scope}|${target}|${trigger.eventId}`).digest('hex').slice(0, 32);
}

function controlFor(decision: Decision, target: string, trigger: SpanEvent, ref: PolicyRef): ControlEvent {
  return {
    eventId: tripId(decision, target, trigger),
    tenantId: trigger.tenantId,
    scope: decision.scope,
    target,
    treeId: trigger.treeId,
    action: 'trip',
    reason: { detector: decision.detector, threshold: decision.threshold, observed: decision.observed, windowMs: decision.windowMs, message: decision.message },
    policyId: ref.policyId,
    policyVersion: ref.policyVersion,
    timeMs: trigger.endTimeMs,
  };
}

function auditFor(decision: Decision, target: string, trigger: SpanEvent, ref: PolicyRef, tree: TreeLedger, run: RunLedger): BreakerEvent {
  return {
    eventId: tripId(decision, target, trigger),
    tenantId: trigger.tenantId,
    agentId: trigger.agentId,
    runId: trigger.runId,
    treeId: trigger.treeId,
    scope: decision.scope,
    target,
    action: 'trip',
    detector: decision.detector,
    threshold: decision.threshold,
    observed: decision.observed,
    windowMs: decision.windowMs,
    policyId: ref.policyId,
    policyVersion: ref.policyVersion,
    lastAction: `${trigger.kind} ${trigger.name}${trigger.argsHash ? ` args#${trigger.argsHash.slice(0, 12)}` : ''}${trigger.error ? `: ${trigger.error}` : ''}`,
    triggerEventId: trigger.eventId,
    stepsElapsed: run.steps,
    runCostMicros: run.costMicros,
    treeCostMicros: tree.costMicros,
    message: decision.message,
    timeMs: trigger.endTimeMs,
  };
}
