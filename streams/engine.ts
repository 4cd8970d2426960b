/**
 * The breaker engine: folds span events, tree by tree, through every detector and the
 * breakers, and says which control events and audit records follow. Pure: no clock (time is
 * the triggering event's), no I/O; the processor shell feeds it and publishes what it returns.
 *
 * State is per spawn tree because spans are partitioned by tree id: one engine instance sees
 * every event of the trees its partitions carry, so ledgers, streaks and windows are local.
 *
 * - One trip per episode: while a run's (or its tree's) breaker is open, nothing more trips it;
 *   a reset starts a new episode. A warn disposition warns once per episode and halts nothing.
 * - Trip ids are derived from (action, detector, scope, target, episode), not from the event
 *   that happened to cross the line, so replays, duplicates and reordering within the lateness
 *   bound yield the same decision with the same id.
 * - Spend and step counters never reset; a reset clears only the patterns (loop, streaks).
 */
import { createHash } from 'node:crypto';
import type { BreakerEvent, ControlEvent, SpanEvent } from '../schemas/index.js';
import { closedBreaker, move, type Breaker } from './breaker.js';
import { DETECTORS, type Detector, type DetectorName, type Finding } from './detectors/index.js';
import { isStep } from './detectors/iteration-cap.js';
import { builtinPolicies, type Governing, type PolicySource, type Subject } from './policies.js';

/** Span attribute carrying the agent's fleet tags (comma-separated), for tag-scoped policies. */
export const TAGS_ATTRIBUTE = 'fusebox.agent.tags';

/** Detectors whose state is a pattern that a reset forgives; counters are never forgiven. */
const PATTERN_DETECTORS: ReadonlySet<DetectorName> = new Set(['loop', 'failure_streak']);

export interface RunLedger {
  agentId: string;
  tags: readonly string[];
  /** Actions taken: every span but run_start and run_end. */
  steps: number;
  costMicros: number;
  states: Partial<Record<DetectorName, unknown>>;
}

export interface BreakerRecord {
  breaker: Breaker;
  /** Resets so far; part of every decision id. */
  episode: number;
  /** Detectors that warned in this episode (a warning is given once per episode). */
  warned: DetectorName[];
}

export interface TreeLedger {
  tenantId: string;
  treeId: string;
  costMicros: number;
  tokens: number;
  runs: Map<string, RunLedger>;
  states: Partial<Record<DetectorName, unknown>>;
  /** Keyed `scope:target` (run or tree). Absent means closed, episode 0. */
  breakers: Map<string, BreakerRecord>;
  /** Fingerprints of the event ids already folded, so a redelivered event changes nothing. Bounded. */
  seen: Set<string>;
}

/**
 * 64 bits of an event id (two FNV-1a variants), as 16 hex chars: the dedup window travels in
 * every state snapshot, so it holds fingerprints rather than whole ids (a UUID is 36 chars).
 * Within a window of a few hundred ids per tree a collision is a 1-in-10^14 event.
 */
export function eventFingerprint(eventId: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ eventId.length;
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

export interface Outcome {
  controls: ControlEvent[];
  audits: BreakerEvent[];
  /** The event had been folded before (a redelivery): it changed nothing. */
  duplicate: boolean;
}

export interface EngineOptions {
  policies?: PolicySource;
  /** Event ids remembered per tree for deduplication (a client's retried batch arrives close by). */
  dedupeWindow?: number;
}

/** A tree's whole state as plain JSON-able data: what the processor's changelog stores. */
export interface TreeSnapshot {
  v: 1;
  tenantId: string;
  treeId: string;
  costMicros: number;
  tokens: number;
  runs: Array<[string, RunLedger]>;
  states: Partial<Record<DetectorName, unknown>>;
  breakers: Array<[string, BreakerRecord]>;
  seen: string[];
}

const NOTHING: Outcome = Object.freeze({ controls: [], audits: [], duplicate: false }) as unknown as Outcome;
const DUPLICATE: Outcome = Object.freeze({ controls: [], audits: [], duplicate: true }) as unknown as Outcome;

export function createEngine(options: EngineOptions = {}) {
  const policies = options.policies ?? builtinPolicies;
  const dedupeWindow = options.dedupeWindow ?? 256;
  const trees = new Map<string, TreeLedger>();

  function treeLedger(tenantId: string, treeId: string): TreeLedger {
    let tree = trees.get(treeId);
    if (!tree) {
      tree = { tenantId, treeId, costMicros: 0, tokens: 0, runs: new Map(), states: {}, breakers: new Map(), seen: new Set() };
      trees.set(treeId, tree);
    }
    return tree;
  }

  /** Folds the event in; returns the ledgers, or null for a duplicate. */
  function evolve(event: SpanEvent): { tree: TreeLedger; run: RunLedger } | null {
    const tree = treeLedger(event.tenantId, event.treeId);
    const fingerprint = eventFingerprint(event.eventId);
    if (tree.seen.has(fingerprint)) return null;
    tree.seen.add(fingerprint);
    if (tree.seen.size > dedupeWindow) tree.seen.delete(tree.seen.values().next().value as string);

    let run = tree.runs.get(event.runId);
    if (!run) {
      const tags = event.attributes[TAGS_ATTRIBUTE]?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
      run = { agentId: event.agentId, tags, steps: 0, costMicros: 0, states: {} };
      tree.runs.set(event.runId, run);
    }
    const cost = event.costMicros ?? 0;
    if (isStep(event.kind)) run.steps += 1;
    run.costMicros += cost;
    tree.costMicros += cost;
    tree.tokens += event.inputTokens + event.outputTokens;
    for (const detector of DETECTORS) {
      const holder = detector.stateScope === 'run' ? run.states : tree.states;
      holder[detector.name] = detector.evolve(holder[detector.name] ?? detector.initialState(), event);
    }
    return { tree, run };
  }

  function decide(tree: TreeLedger, run: RunLedger, event: SpanEvent): Outcome {
    const subject: Subject = { tenantId: event.tenantId, agentId: event.agentId, runId: event.runId, tags: run.tags };
    let outcome: Outcome | null = null;
    // Looked up once per event (not per detector), and updated below as this event trips.
    let treeOpen = tree.breakers.size > 0 && isOpen(tree, 'tree', event.treeId);
    let runOpen = tree.breakers.size > 0 && isOpen(tree, 'run', event.runId);
    for (const detector of DETECTORS) {
      const scope = detector.stateScope;
      // A halted run decides nothing more for itself; its tree may still trip as a whole.
      if (treeOpen || (scope === 'run' && runOpen)) continue;
      const governing = policies.resolve(detector, subject);
      if (!governing) continue;
      const state = (scope === 'run' ? run.states : tree.states)[detector.name] ?? detector.initialState();
      const finding = detector.decide(state, event, governing.params);
      if (!finding) continue;
      const target = scope === 'run' ? event.runId : event.treeId;
      const key = `${scope}:${target}`;
      const record = tree.breakers.get(key) ?? { breaker: closedBreaker(), episode: 0, warned: [] };
      if (governing.disposition === 'warn') {
        if (record.warned.includes(detector.name)) continue;
        record.warned = [...record.warned, detector.name];
      } else {
        record.breaker = move(record.breaker, 'trip', event.endTimeMs);
        if (scope === 'tree') treeOpen = true;
        else runOpen = true;
      }
      tree.breakers.set(key, record);
      outcome ??= { controls: [], audits: [], duplicate: false };
      const action = governing.disposition === 'warn' ? 'warn' : 'trip';
      const id = decisionId(action, detector.name, scope, target, record.episode);
      outcome.controls.push(controlFor(id, action, detector, finding, scope, target, event, governing));
      outcome.audits.push(auditFor(id, action, detector, finding, scope, target, event, governing, tree, run));
    }
    return outcome ?? NOTHING;
  }

  return {
    /** Evolve and decide: the live path. */
    apply(event: SpanEvent): Outcome {
      const folded = evolve(event);
      return folded ? decide(folded.tree, folded.run, event) : DUPLICATE;
    },

    /** Evolve only: rebuilding state from the log without re-emitting decisions. */
    restore(event: SpanEvent): void {
      evolve(event);
    },

    /**
     * A control event for a run or tree this engine holds: kill opens its breaker, reset closes
     * it and starts a new episode (forgiving loop and streak patterns, never spend). Trips and
     * warnings are the engine's own decisions coming back: already applied. Returns whether
     * anything changed.
     */
    control(event: ControlEvent): boolean {
      if ((event.scope !== 'run' && event.scope !== 'tree') || event.treeId === null) return false;
      if (event.action !== 'kill' && event.action !== 'reset') return false;
      const tree = treeLedger(event.tenantId, event.treeId);
      if (tree.tenantId !== event.tenantId) return false; // never let one tenant steer another's tree
      const key = `${event.scope}:${event.target}`;
      const record = tree.breakers.get(key) ?? { breaker: closedBreaker(), episode: 0, warned: [] };
      if (event.action === 'kill') {
        if (record.breaker.state === 'open') return false;
        record.breaker = move(record.breaker, 'trip', event.timeMs);
      } else {
        if (record.breaker.state === 'closed' && record.warned.length === 0) return false;
        record.breaker = move(record.breaker, 'reset', event.timeMs);
        record.episode += 1;
        record.warned = [];
        const runs = event.scope === 'run' ? [tree.runs.get(event.target)].filter((r): r is RunLedger => r !== undefined) : [...tree.runs.values()];
        for (const run of runs) for (const name of PATTERN_DETECTORS) delete run.states[name];
      }
      tree.breakers.set(key, record);
      return true;
    },

    tree(treeId: string): Readonly<TreeLedger> | undefined {
      return trees.get(treeId);
    },

    /** The tree's state as data (a deep copy: later events do not change it). */
    snapshot(treeId: string): TreeSnapshot | undefined {
      const tree = trees.get(treeId);
      return tree ? structuredClone(asSnapshot(tree)) : undefined;
    },

    /** The tree's state as JSON, with no intermediate copy: what the changelog stores. */
    snapshotJson(treeId: string): string | undefined {
      const tree = trees.get(treeId);
      return tree ? JSON.stringify(asSnapshot(tree)) : undefined;
    },

    /** Replaces a tree's state with a snapshot (restoring from the changelog). */
    load(snapshot: TreeSnapshot): void {
      const copy = structuredClone(snapshot);
      trees.set(copy.treeId, {
        tenantId: copy.tenantId,
        treeId: copy.treeId,
        costMicros: copy.costMicros,
        tokens: copy.tokens,
        runs: new Map(copy.runs),
        states: copy.states,
        breakers: new Map(copy.breakers),
        seen: new Set(copy.seen),
      });
    },

    /** Drops trees (all, or those `which` selects): their state is no longer this engine's. */
    forget(which: (treeId: string) => boolean = () => true): void {
      for (const treeId of [...trees.keys()]) if (which(treeId)) trees.delete(treeId);
    },

    treeIds(): string[] {
      return [...trees.keys()];
    },

    get treeCount(): number {
      return trees.size;
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;

/** A view of the live ledger in snapshot shape; copy or serialize it before the next event. */
function asSnapshot(tree: TreeLedger): TreeSnapshot {
  return {
    v: 1,
    tenantId: tree.tenantId,
    treeId: tree.treeId,
    costMicros: tree.costMicros,
    tokens: tree.tokens,
    runs: [...tree.runs],
    states: tree.states,
    breakers: [...tree.breakers],
    seen: [...tree.seen],
  };
}

function isOpen(tree: TreeLedger, scope: 'run' | 'tree', target: string): boolean {
  const record = tree.breakers.get(`${scope}:${target}`);
  return record !== undefined && record.breaker.state !== 'closed';
}

function decisionId(action: string, detector: string, scope: string, target: string, episode: number): string {
  return createHash('sha256').update(`${action}|${detector}|${scope}|${target}|${episode}`).digest('hex').slice(0, 32);
}

function controlFor(id: string, action: 'trip' | 'warn', detector: Detector, finding: Finding, scope: 'run' | 'tree', target: string, trigger: SpanEvent, governing: Governing): ControlEvent {
  return {
    eventId: id,
    tenantId: trigger.tenantId,
    scope,
    target,
    treeId: trigger.treeId,
    action,
    reason: { detector: detector.name, threshold: finding.threshold, observed: finding.observed, windowMs: finding.windowMs, message: finding.message },
    policyId: governing.ref.policyId,
    policyVersion: governing.ref.policyVersion,
    timeMs: trigger.endTimeMs,
  };
}

function auditFor(id: string, action: 'trip' | 'warn', detector: Detector, finding: Finding, scope: 'run' | 'tree', target: string, trigger: SpanEvent, governing: Governing, tree: TreeLedger, run: RunLedger): BreakerEvent {
  return {
    eventId: id,
    tenantId: trigger.tenantId,
    agentId: trigger.agentId,
    runId: trigger.runId,
    treeId: trigger.treeId,
    scope,
    target,
    action,
    detector: detector.name,
    threshold: finding.threshold,
    observed: finding.observed,
    windowMs: finding.windowMs,
    policyId: governing.ref.policyId,
    policyVersion: governing.ref.policyVersion,
    lastAction: `${trigger.kind} ${trigger.name}${trigger.argsHash ? ` args#${trigger.argsHash.slice(0, 12)}` : ''}${trigger.error ? `: ${trigger.error}` : ''}`,
    triggerEventId: trigger.eventId,
    stepsElapsed: run.steps,
    runCostMicros: run.costMicros,
    treeCostMicros: tree.costMicros,
    message: finding.message,
    timeMs: trigger.endTimeMs,
  };
}
