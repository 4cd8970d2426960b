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
 * - Finished trees are evicted (`evictIdle`): a tree whose runs all ended and that has been idle,
 *   in event time, longer than `retentionMs` keeps only its summary (spend, tokens, breakers,
 *   counters of the tree), so a late event neither restarts the budget from zero nor re-opens a
 *   breaker; summaries are dropped after `summaryRetentionMs` idle.
 * - The engine records what changed per tree (`changes`): the changelog writes only that.
 */
import { ShardedMap } from './sharded-map.js';
import { sha256Hex } from './sha256.js';
import type { BreakerEvent, ControlEvent, SpanEvent } from '../schemas/index.js';
import { closedBreaker, move, type Breaker } from './breaker.js';
import { DETECTORS, type Detector, type DetectorName, type Finding } from './detectors/index.js';
import { LATENESS_MS, MAX_WINDOW_MS } from './detectors/cost-velocity.js';
import { isStep } from './detectors/iteration-cap.js';
import { builtinPolicies, type Governing, type PolicySource, type Subject } from './policies.js';
import { fingerprint, fromHalves } from './fingerprint.js';
import { addCapped } from './capped-sum.js';

/** Span attribute carrying the agent's fleet tags (comma-separated), for tag-scoped policies. */
export const TAGS_ATTRIBUTE = 'fusebox.agent.tags';

/** Detectors whose state is a pattern that a reset forgives; counters are never forgiven. */
const PATTERN_DETECTORS: ReadonlySet<DetectorName> = new Set(['loop', 'failure_streak']);

/**
 * Tree-scope states that are running totals: an evicted tree keeps them. Windowed ones
 * (cost_velocity) hold nothing an event within the lateness bound could still fall beside,
 * as long as the retention is at least the longest window plus that bound (the default).
 */
const CUMULATIVE_TREE_DETECTORS: ReadonlySet<DetectorName> = new Set(['tree_budget']);

/**
 * Detectors that keep state; those whose initial state is null (scope, context ceiling) keep
 * none, so they are never evolved and take no room in the ledgers or the changelog.
 */
const STATEFUL: readonly Detector[] = DETECTORS.filter((detector) => detector.initialState() !== null);

/** Trees with at most this many runs are written as one record; larger ones a record per run. */
export const INLINE_RUNS = 8;

/** Default idle time (event time) before a finished tree is evicted: the longest velocity window plus the lateness bound. */
export const DEFAULT_RETENTION_MS = MAX_WINDOW_MS + LATENESS_MS;
/** Default idle time before an evicted tree's summary is dropped too. */
export const DEFAULT_SUMMARY_RETENTION_MS = 7 * 24 * 3_600_000;
/** Default idle time after which runs that never sent run_end (a crashed agent) count as ended. */
export const DEFAULT_ABANDONED_AFTER_MS = 24 * 3_600_000;

export interface RunLedger {
  agentId: string;
  tags: readonly string[];
  /** Actions taken: every span but run_start and run_end. */
  steps: number;
  costMicros: number;
  states: Partial<Record<DetectorName, unknown>>;
  /** A run_end was folded: the run will send nothing more (a late event may still come). */
  ended: boolean;
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
  /** Fingerprints of the event ids already folded, oldest first, so a redelivered event changes nothing. Bounded. */
  seen: Set<number>;
  /** The newest event time folded into the tree: how long it has been idle. */
  lastEventMs: number;
  /**
   * Its runs are written as records of their own (once it has more than INLINE_RUNS), not
   * inside the tree's record: a span of one run of a large tree then re-writes that run only.
   */
  splitRuns: boolean;
}

/** What an evicted tree keeps: enough that a late event neither restarts its budget nor its breakers. */
export interface TreeSummary {
  tenantId: string;
  treeId: string;
  costMicros: number;
  tokens: number;
  lastEventMs: number;
  /** Only the cumulative tree states (CUMULATIVE_TREE_DETECTORS). */
  states: Partial<Record<DetectorName, unknown>>;
  breakers: Map<string, BreakerRecord>;
}

/**
 * What changed of a tree since the last `changes` call: the live tree and, if its runs are
 * written apart (`splitRuns`), its changed runs (null: the run is gone; else the tree's record
 * holds them all); or, for an evicted tree, its summary (null: nothing is left) and tombstones
 * for the runs it had written apart.
 */
export type TreeChanges =
  | { treeId: string; tree: Readonly<TreeLedger>; summary: null; runs: Array<[runId: string, run: Readonly<RunLedger> | null]> }
  | { treeId: string; tree: null; summary: Readonly<TreeSummary> | null; runs: Array<[runId: string, run: null]> };

/**
 * 53 bits of an event id (./fingerprint.ts), as a number: the dedup window travels in the
 * changelog (8 bytes an id) and sits in memory as a Set of numbers, not strings. Within a window
 * of a few hundred ids per tree a collision is a 1-in-10^13 event.
 */
export const eventFingerprint = (eventId: string): number => fingerprint(eventId);

export interface Outcome {
  controls: ControlEvent[];
  audits: BreakerEvent[];
  /** The event had been folded before (a redelivery): it changed nothing. */
  duplicate: boolean;
  /** The event names a tree another tenant holds: it was folded nowhere (tree ids are keys across tenants). */
  foreign?: boolean;
}

export interface EngineOptions {
  policies?: PolicySource;
  /** Event ids remembered per tree for deduplication (a client's retried batch arrives close by). */
  dedupeWindow?: number;
  /** Idle time (event time) after which a tree whose runs all ended is evicted. */
  retentionMs?: number;
  /** Idle time after which an evicted tree's summary is dropped as well. */
  summaryRetentionMs?: number;
  /** Idle time after which runs without a run_end count as ended. */
  abandonedAfterMs?: number;
  /**
   * The shard of a tree (the processor's: the spans partition of its id), so `evictIdle` can
   * sweep one shard without walking the others' trees. Default: one shard.
   */
  shardOf?: (treeId: string) => number;
}

/**
 * A tree's whole state as plain JSON-able data (tests compare and copy it). `seen` holds the
 * fingerprints as numbers; the processor's first changelog layout (v1) had them as 16 hex chars,
 * which `load` still reads.
 */
export interface TreeSnapshot {
  v: 1;
  tenantId: string;
  treeId: string;
  costMicros: number;
  tokens: number;
  runs: Array<[string, RunLedger]>;
  states: Partial<Record<DetectorName, unknown>>;
  breakers: Array<[string, BreakerRecord]>;
  seen: Array<number | string>;
  lastEventMs?: number;
}

const NOTHING: Outcome = Object.freeze({ controls: [], audits: [], duplicate: false }) as unknown as Outcome;
const DUPLICATE: Outcome = Object.freeze({ controls: [], audits: [], duplicate: true }) as unknown as Outcome;
const FOREIGN: Outcome = Object.freeze({ controls: [], audits: [], duplicate: false, foreign: true }) as unknown as Outcome;

export function createEngine(options: EngineOptions = {}) {
  const policies = options.policies ?? builtinPolicies;
  const dedupeWindow = options.dedupeWindow ?? 256;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const summaryRetentionMs = options.summaryRetentionMs ?? DEFAULT_SUMMARY_RETENTION_MS;
  const abandonedAfterMs = options.abandonedAfterMs ?? DEFAULT_ABANDONED_AFTER_MS;
  const shardOf = options.shardOf ?? (() => 0);
  const trees = new ShardedMap<TreeLedger>(shardOf);
  const summaries = new ShardedMap<TreeSummary>(shardOf);
  /** Per tree, the runs changed (or gone) since its last `changes` call; kept up for trees whose runs are written apart (`splitRuns`), the only ones `changes` asks it of. */
  const dirty = new Map<string, Set<string>>();

  function markRun(treeId: string, runId: string): void {
    let runs = dirty.get(treeId);
    if (!runs) dirty.set(treeId, (runs = new Set()));
    runs.add(runId);
  }

  /**
   * Trees are keyed by id alone (spans are partitioned by it), so a span or control naming a
   * tree another tenant holds must change nothing there: never let one tenant spend, trip or
   * steer another's tree, even with a guessed or leaked id.
   */
  function heldByAnother(tenantId: string, treeId: string): boolean {
    const known = trees.get(treeId) ?? summaries.get(treeId);
    return known !== undefined && known.tenantId !== tenantId;
  }

  /** `live` is what `trees` holds for the id, when the caller has looked it up already. */
  function treeLedger(tenantId: string, treeId: string, live = trees.get(treeId)): TreeLedger {
    let tree = live;
    if (!tree) {
      // A late event (or control) for an evicted tree carries on from its summary.
      const summary = summaries.get(treeId);
      summaries.delete(treeId);
      tree = summary
        ? { tenantId: summary.tenantId, treeId, costMicros: summary.costMicros, tokens: summary.tokens, runs: new Map(), states: summary.states, breakers: summary.breakers, seen: new Set(), lastEventMs: summary.lastEventMs, splitRuns: false }
        : { tenantId, treeId, costMicros: 0, tokens: 0, runs: new Map(), states: {}, breakers: new Map(), seen: new Set(), lastEventMs: 0, splitRuns: false };
      trees.set(treeId, tree);
    }
    return tree;
  }

  /** Folds the event in; returns the ledgers, or null for a duplicate. `ledger`: the tree's, when the caller has it. */
  function evolve(event: SpanEvent, ledger?: TreeLedger): { tree: TreeLedger; run: RunLedger } | null {
    const tree = ledger ?? treeLedger(event.tenantId, event.treeId);
    const fingerprint = eventFingerprint(event.eventId);
    if (tree.seen.has(fingerprint)) return null;
    tree.seen.add(fingerprint);
    if (tree.seen.size > dedupeWindow) tree.seen.delete(tree.seen.values().next().value as number);
    if (event.endTimeMs > tree.lastEventMs) tree.lastEventMs = event.endTimeMs;

    let run = tree.runs.get(event.runId);
    if (!run) {
      const tags = event.attributes[TAGS_ATTRIBUTE]?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
      run = { agentId: event.agentId, tags, steps: 0, costMicros: 0, states: {}, ended: false };
      tree.runs.set(event.runId, run);
    }
    // Which runs changed matters only to a tree whose runs are written apart (see `changes`);
    // a tree written whole (nearly all) is written whole whatever changed.
    if (tree.splitRuns) markRun(event.treeId, event.runId);
    if (event.kind === 'run_end') run.ended = true;
    const cost = event.costMicros ?? 0;
    if (isStep(event.kind)) run.steps += 1;
    run.costMicros = addCapped(run.costMicros, cost);
    tree.costMicros = addCapped(tree.costMicros, cost);
    tree.tokens = addCapped(tree.tokens, addCapped(event.inputTokens, event.outputTokens));
    // Detectors evolve the states the ledgers own in place (see Detector.evolve).
    for (const detector of STATEFUL) {
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
    // Indexed, not for-of: this loop's iterator results were not optimised away (360 bytes a
    // span of garbage in an allocation profile of the processor path).
    for (let d = 0; d < DETECTORS.length; d++) {
      const detector = DETECTORS[d]!;
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

  /** A tree idle long enough, whose runs all ended (or went quiet for good), leaves only its summary. */
  function evictable(tree: TreeLedger, highWaterMs: number): boolean {
    const idle = highWaterMs - tree.lastEventMs;
    if (idle <= retentionMs) return false;
    if (idle > abandonedAfterMs) return true;
    for (const run of tree.runs.values()) if (!run.ended) return false;
    return true;
  }

  return {
    /** Evolve and decide: the live path. */
    apply(event: SpanEvent): Outcome {
      // heldByAnother and treeLedger in one lookup: this runs for every span.
      const live = trees.get(event.treeId);
      if (live ? live.tenantId !== event.tenantId : heldByAnother(event.tenantId, event.treeId)) return FOREIGN;
      const folded = evolve(event, treeLedger(event.tenantId, event.treeId, live));
      return folded ? decide(folded.tree, folded.run, event) : DUPLICATE;
    },

    /** Evolve only: rebuilding state from the log without re-emitting decisions. */
    restore(event: SpanEvent): void {
      if (!heldByAnother(event.tenantId, event.treeId)) evolve(event);
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
      if (heldByAnother(event.tenantId, event.treeId)) return false;
      const tree = treeLedger(event.tenantId, event.treeId);
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
        const runIds = event.scope === 'run' ? (tree.runs.has(event.target) ? [event.target] : []) : [...tree.runs.keys()];
        for (const runId of runIds) {
          const run = tree.runs.get(runId)!;
          for (const name of PATTERN_DETECTORS) delete run.states[name];
          markRun(tree.treeId, runId);
        }
      }
      tree.breakers.set(key, record);
      return true;
    },

    /**
     * Evicts the trees of `shard` (all shards if undefined) that finished and have been idle
     * longer than the retention, as of `highWaterMs` (the newest event time of their partition:
     * event time, never the wall clock), keeping their summaries; drops summaries idle past their
     * own retention, handing each to `onDropped` (the processor tombstones its breakers where
     * they stand). Returns the trees changed, whose changelog records must now be written.
     */
    evictIdle(highWaterMs: number, shard?: number, onDropped?: (summary: Readonly<TreeSummary>) => void): string[] {
      const changed: string[] = [];
      // Deleting the entry being visited is safe in a Map walk. A summary added here is dropped
      // by the walk below at once if the tree was idle past the summaries' retention too.
      for (const tree of trees.valuesIn(shard)) {
        if (!evictable(tree, highWaterMs)) continue;
        trees.delete(tree.treeId);
        // Runs written inline went with the tree's record; runs of their own need tombstones.
        if (tree.splitRuns) for (const runId of tree.runs.keys()) markRun(tree.treeId, runId);
        else dirty.delete(tree.treeId);
        const states: TreeSummary['states'] = {};
        for (const name of CUMULATIVE_TREE_DETECTORS) if (tree.states[name] !== undefined) states[name] = tree.states[name];
        summaries.set(tree.treeId, { tenantId: tree.tenantId, treeId: tree.treeId, costMicros: tree.costMicros, tokens: tree.tokens, lastEventMs: tree.lastEventMs, states, breakers: tree.breakers });
        changed.push(tree.treeId);
      }
      for (const summary of summaries.valuesIn(shard)) {
        if (highWaterMs - summary.lastEventMs <= summaryRetentionMs) continue;
        summaries.delete(summary.treeId);
        onDropped?.(summary);
        if (!changed.includes(summary.treeId)) changed.push(summary.treeId);
      }
      return changed;
    },

    /** What changed of the tree since the last call (and forgets that it changed): what the changelog writes. */
    changes(treeId: string): TreeChanges {
      const runIds = dirty.get(treeId);
      dirty.delete(treeId);
      const tree = trees.get(treeId);
      if (tree && !tree.splitRuns && tree.runs.size > INLINE_RUNS) {
        tree.splitRuns = true; // from now on each run has a record: all of them, this once
        return { treeId, tree, summary: null, runs: [...tree.runs] };
      }
      if (tree) return { treeId, tree, summary: null, runs: tree.splitRuns && runIds ? [...runIds].map((id) => [id, tree.runs.get(id) ?? null]) : [] };
      return { treeId, tree: null, summary: summaries.get(treeId) ?? null, runs: runIds ? [...runIds].map((id) => [id, null]) : [] };
    },

    tree(treeId: string): Readonly<TreeLedger> | undefined {
      return trees.get(treeId);
    },

    summary(treeId: string): Readonly<TreeSummary> | undefined {
      return summaries.get(treeId);
    },

    /** The tree's state as data (a deep copy: later events do not change it). */
    snapshot(treeId: string): TreeSnapshot | undefined {
      const tree = trees.get(treeId);
      return tree ? structuredClone(asSnapshot(tree)) : undefined;
    },

    /**
     * Replaces a tree's state with a whole snapshot (restoring from the changelog's v1 layout):
     * every run counts as changed, so the next changes write the tree out whole in parts.
     */
    load(snapshot: TreeSnapshot): void {
      const copy = structuredClone(snapshot);
      const seen = copy.seen.map((f) => (typeof f === 'number' ? f : fromHalves(parseInt(f.slice(0, 8), 16), parseInt(f.slice(8, 16), 16))));
      const runs = new Map(copy.runs.map(([id, run]) => [id, { ...run, ended: run.ended ?? false }]));
      const lastEventMs = copy.lastEventMs ?? 0;
      summaries.delete(copy.treeId);
      trees.set(copy.treeId, { tenantId: copy.tenantId, treeId: copy.treeId, costMicros: copy.costMicros, tokens: copy.tokens, runs, states: copy.states, breakers: new Map(copy.breakers), seen: new Set(seen), lastEventMs, splitRuns: false });
      for (const runId of runs.keys()) markRun(copy.treeId, runId);
    },

    /** Restores a tree's own record (the changelog's v2 layout); runs of their own come apart, in any order. */
    loadTree(head: Omit<TreeLedger, 'runs'>, inlineRuns: Iterable<[string, RunLedger]> = []): void {
      const runs = trees.get(head.treeId)?.runs ?? new Map<string, RunLedger>();
      for (const [runId, run] of inlineRuns) runs.set(runId, run);
      summaries.delete(head.treeId);
      trees.set(head.treeId, { ...head, runs });
    },

    /** Restores one run's record; before its tree's record arrives the tree is a placeholder. */
    loadRun(treeId: string, runId: string, run: RunLedger): void {
      treeLedger('', treeId).runs.set(runId, run);
    },

    /** Restores an evicted tree's summary. */
    loadSummary(summary: TreeSummary): void {
      trees.delete(summary.treeId);
      summaries.set(summary.treeId, summary);
    },

    /** Drops trees and summaries (all, or those `which` selects): their state is no longer this engine's. */
    forget(which: (treeId: string) => boolean = () => true): void {
      for (const treeId of [...trees.keys()]) if (which(treeId)) trees.delete(treeId);
      for (const treeId of [...summaries.keys()]) if (which(treeId)) summaries.delete(treeId);
      for (const treeId of [...dirty.keys()]) if (which(treeId)) dirty.delete(treeId);
    },

    treeIds(): string[] {
      return [...trees.keys()];
    },

    get treeCount(): number {
      return trees.size;
    },

    get summaryCount(): number {
      return summaries.size;
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
    lastEventMs: tree.lastEventMs,
  };
}

function isOpen(tree: TreeLedger, scope: 'run' | 'tree', target: string): boolean {
  const record = tree.breakers.get(`${scope}:${target}`);
  return record !== undefined && record.breaker.state !== 'closed';
}

function decisionId(action: string, detector: string, scope: string, target: string, episode: number): string {
  return sha256Hex(`${action}|${detector}|${scope}|${target}|${episode}`).slice(0, 32);
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
