/**
 * The breaker processor: the pure engine inside the exactly-once stage shell
 * (../transactional-stage.ts).
 *
 * It consumes spans and control events, co-partitioned (partition N of both, keyed by tree
 * id, belongs to one member), folds them through the engine, and publishes what each batch
 * decided in Kafka transactions (the stage takes everything folded since its last one): trips
 * and warnings (control topic), the trips again where they stand (breaker-state, one key per
 * breaker: ../control-messages.ts; tombstoned when the tree is forgotten), their audit records
 * (audit topic), dead letters, run signals for the agent stage (agent-signals, keyed by agent)
 * and spend summaries for the tenant stage (tenant-spend, keyed by tenant) — each only for
 * tenants with a policy for that stage —, and what changed of every tree touched, with the
 * input positions it reflects (processor-state changelog, ./state-changelog.ts). Trips and
 * warnings also go out at once, outside the transaction, on the early lane (./early-lane.ts),
 * so agents halt without waiting for commits.
 *
 * Finished trees are evicted from memory once idle longer than the retention in EVENT time:
 * the newest span end time of their partition (a partition's spans arrive roughly in time
 * order, and a replay evicts alike), swept at most once every 5 minutes of that time. An evicted
 * tree's summary and its runs' tombstones go out in the same transaction as the span that
 * moved the time on; so do the breaker-state tombstones of a tree forgotten altogether.
 */
import { partitionForKey } from '../../log/partitioner.js';
import type { LogBatch, OutgoingMessage } from '../../log/port.js';
import { agentKey, agentSignalCodec, breakerEventCodec, controlEventCodec, tenantSpendCodec, type AgentSignal, type SpanEvent, type TenantSpend } from '../../schemas/index.js';
import { createEngine, type Engine, type EngineOptions } from '../../streams/engine.js';
import { AGENT_BREAKER } from '../../streams/agent-breaker.js';
import { createPolicyBook } from '../../streams/policies.js';
import { TENANT_COST_VELOCITY } from '../../streams/tenant-velocity.js';
import { batchDeadLetters } from '../dead-letter.js';
import { decodeSpanMessage } from '../decode-span.js';
import { batchTally } from '../observability/index.js';
import { createPolicyFeed } from '../policy-feed.js';
import { createPricing } from '../pricing.js';
import { createTransactionalStage, type StageOutput } from '../transactional-stage.js';
import { standingMessage, standingTombstones } from '../control-messages.js';
import { createEarlyLane } from './early-lane.js';
import { decodeRecord, encodeChanges } from './state-changelog.js';
import type { StageServiceOptions } from '../stage-service.js';

export interface ProcessorOptions extends StageServiceOptions {
  /** When finished trees leave memory (event time); the engine's defaults otherwise. */
  eviction?: Pick<EngineOptions, 'retentionMs' | 'summaryRetentionMs' | 'abandonedAfterMs'>;
  /** Trips also sent at once, outside the transaction, to the control-early topic (default true; see ./early-lane.ts). */
  earlyTrips?: boolean;
  /** Under load, a partition's transactions at most this often (default 100 ms with the early
   *  lane, which carries the trips meanwhile; back to back without it). */
  minTransactionIntervalMs?: number;
}

/** Event time between two eviction sweeps of a partition: a sweep looks at every tree in memory. */
const SWEEP_EVERY_MS = 300_000;

export interface ProcessorStats {
  spans: number;
  trips: number;
  warnings: number;
  controlsApplied: number;
  deadLettered: number;
  /** Trees evicted from memory (summaries kept), and summaries dropped. */
  treesEvicted: number;
}

/** What the agent stage learns of a span: a run starting or ending. */
function runSignal(event: SpanEvent): AgentSignal | null {
  if (event.kind !== 'run_start' && event.kind !== 'run_end') return null;
  const kind = event.kind === 'run_start' ? 'run_started' : event.status === 'error' ? 'run_failed' : 'run_succeeded';
  return { signalId: `${event.eventId}:${kind}`, tenantId: event.tenantId, agentId: event.agentId, runId: event.runId, treeId: event.treeId, kind, detail: event.error ?? '', timeMs: event.endTimeMs };
}

const signalMessage = (signal: AgentSignal): OutgoingMessage => ({ key: agentKey(signal.tenantId, signal.agentId), value: agentSignalCodec.encode(signal) });

export function createProcessor(options: ProcessorOptions) {
  const { log, topics, logger } = options;
  const groupId = options.groupId ?? 'fusebox-processor';
  const book = options.policies ?? createPolicyBook();
  let partitions = 0;
  // Trees are sharded by the spans partition of their id, as the log partitions them: a sweep
  // walks only the partition it sweeps. No tree exists before start() has read the count.
  const shardOf = (treeId: string): number => {
    if (partitions === 0) throw new Error(`processor: tree '${treeId}' arrived before the partition count of ${topics.spans} was read`);
    return partitionForKey(treeId, partitions);
  };
  const engine: Engine = createEngine({ policies: book, ...options.eviction, shardOf });
  const policyFeed = createPolicyFeed(log, topics.policies, book, logger.child('policies'));
  const pricing = createPricing(log, topics.prices, logger.child('prices'));
  const early = options.earlyTrips === false ? null : createEarlyLane(log, topics.controlEarly, logger.child('early'));
  const stats: ProcessorStats = { spans: 0, trips: 0, warnings: 0, controlsApplied: 0, deadLettered: 0, treesEvicted: 0 };
  /** Partitions of the breaker-state topic, where trips stand (read at start). */
  let standingPartitions = 0;
  /** Per partition, the newest span end time folded, and where its last eviction sweep was. */
  const highWater = new Map<number, number>();
  const sweptAt = new Map<number, number>();

  /**
   * Evicts the partition's idle finished trees, if its event time moved on enough since the last
   * sweep; a tree forgotten altogether takes its standing run and tree breakers with it.
   */
  function sweep(partition: number, touched: Set<string>, standing: OutgoingMessage[]): void {
    const now = highWater.get(partition) ?? 0;
    const last = sweptAt.get(partition);
    if (last === undefined) {
      sweptAt.set(partition, now); // a fresh (or restored) partition waits a period before its first sweep
      return;
    }
    if (now - last < SWEEP_EVERY_MS) return;
    sweptAt.set(partition, now);
    const evicted = engine.evictIdle(now, partition, (summary) => {
      if (summary.breakers.size > 0) standing.push(...standingTombstones(summary.tenantId, summary.breakers.keys(), standingPartitions));
    });
    for (const treeId of evicted) touched.add(treeId);
    stats.treesEvicted += evicted.length;
  }

  function handle(batch: LogBatch): StageOutput {
    const controls: OutgoingMessage[] = [];
    const audits: OutgoingMessage[] = [];
    const signals: OutgoingMessage[] = [];
    const standing: OutgoingMessage[] = [];
    const touched = new Set<string>();
    const tally = batchTally();
    const dead = batchDeadLetters('processor', tally.deadLetter);
    let spans = 0;
    let warnings = 0;
    let applied = 0;
    /** Per tenant, what this batch saw spent and when: the tenant stage's input. */
    const spendByTenant = new Map<string, TenantSpend>();

    if (batch.topic === topics.spans) {
      let high = highWater.get(batch.partition) ?? 0;
      /** Per tenant of the batch: whether the tenant and agent stages act for it (two policy lookups each, once a batch). */
      const staged = new Map<string, { tenantVelocity: boolean; agentBreaker: boolean }>();
      for (const message of batch.messages) {
        const decoded = decodeSpanMessage(message, pricing.price);
        if (!decoded.ok) {
          dead.add(message, decoded.code, decoded.reason);
          continue;
        }
        const { event } = decoded;
        const outcome = engine.apply(event);
        if (outcome.foreign) {
          dead.add(message, 'FOREIGN_TREE', `tree '${event.treeId}' is held by another tenant: a span of tenant '${event.tenantId}' is never counted in it`);
          continue;
        }
        spans += 1;
        touched.add(event.treeId);
        if (event.endTimeMs > high) high = event.endTimeMs;
        // The agent and tenant stages act only for tenants with their policies, and every
        // partition a transaction writes to costs a commit marker: send them nothing else.
        let stages = staged.get(event.tenantId);
        if (!stages) staged.set(event.tenantId, (stages = { tenantVelocity: book.governs(event.tenantId, TENANT_COST_VELOCITY), agentBreaker: book.governs(event.tenantId, AGENT_BREAKER) }));
        const { tenantVelocity, agentBreaker } = stages;
        let spend = tenantVelocity ? spendByTenant.get(event.tenantId) : undefined;
        if (tenantVelocity && !spend) {
          spend = { signalId: `${batch.topic}:${batch.partition}:${batch.messages[0]!.offset}:${event.tenantId}`, tenantId: event.tenantId, spend: [], latestMs: 0, runId: event.runId, treeId: event.treeId };
          spendByTenant.set(event.tenantId, spend);
        }
        if (spend) spend.latestMs = Math.max(spend.latestMs, event.endTimeMs);
        // A redelivered span is counted by the engine once; the summary must not count it twice.
        if (spend && !outcome.duplicate && (event.costMicros ?? 0) > 0) spend.spend.push({ timeMs: event.endTimeMs, micros: event.costMicros! });
        const started = agentBreaker ? runSignal(event) : null;
        if (started) signals.push(signalMessage(started));
        for (const control of outcome.controls) {
          controls.push({ key: event.treeId, value: controlEventCodec.encode(control) });
          if (control.action === 'warn') {
            warnings += 1;
            continue;
          }
          if (control.reason) tally.trip(control.reason.detector);
          // It stands on breaker-state too: a client or gateway started later reads it there.
          standing.push(standingMessage(control, standingPartitions)!);
        }
        for (const audit of outcome.audits) {
          audits.push({ key: audit.treeId, value: breakerEventCodec.encode(audit) });
          if (agentBreaker && audit.action === 'trip') {
            signals.push(signalMessage({ signalId: audit.eventId, tenantId: audit.tenantId, agentId: audit.agentId, runId: audit.runId, treeId: audit.treeId, kind: 'run_tripped', detail: audit.detector, timeMs: audit.timeMs }));
          }
          logger.info(audit.action === 'warn' ? 'breaker warning' : 'breaker tripped', { detector: audit.detector, scope: audit.scope, target: audit.target, observed: audit.observed, threshold: audit.threshold, tenant: audit.tenantId, policy: audit.policyId });
        }
      }
      highWater.set(batch.partition, high);
      sweep(batch.partition, touched, standing);
      early?.send(controls);
    } else {
      for (const message of batch.messages) {
        const event = dead.decode(controlEventCodec, message);
        if (!event) continue;
        if (engine.control(event) && event.treeId) {
          touched.add(event.treeId);
          applied += 1;
        }
      }
    }

    stats.spans += spans;
    stats.trips += controls.length - warnings;
    stats.warnings += warnings;
    stats.controlsApplied += applied;
    stats.deadLettered += dead.messages.length;
    if (dead.messages.length > 0) logger.warn('dead-lettered unreadable messages', { count: dead.messages.length, topic: batch.topic, partition: batch.partition });
    // Control first: it is what stops agents (all of it becomes visible at commit anyway).
    const spendSummaries = [...spendByTenant.values()].map((summary) => ({ key: summary.tenantId, value: tenantSpendCodec.encode(summary) }));
    const publish: StageOutput['publish'] = [[topics.control, controls], [topics.breakerState, standing], [topics.audit, audits], [topics.agentSignals, signals], [topics.tenantSpend, spendSummaries], [topics.deadLetter, dead.messages]];
    return { publish, touched, onCommit: tally.onCommit(options.metrics, batch.topic === topics.spans ? 'span' : 'control', batch.messages.length, publish) };
  }

  const stage = createTransactionalStage({
    log,
    logger,
    groupId,
    inputs: [topics.spans, topics.control],
    coPartitioned: true,
    changelog: topics.processorState,
    handle,
    // Trips travel on the early lane the moment they are decided: the transaction carrying their
    // audit records and state need not follow at once, so under load it is let grow.
    minTransactionIntervalMs: options.minTransactionIntervalMs ?? (early ? 100 : 0),
    state: {
      changes: (treeId) => encodeChanges(engine.changes(treeId)),
      // A tombstone loads nothing: the partition's state was forgotten before its restore.
      restore: (key, value) => {
        const record = decodeRecord(key, value);
        if (record?.kind === 'tree') engine.loadTree(record.tree, record.runs);
        else if (record?.kind === 'run') engine.loadRun(record.treeId, record.runId, record.run);
        else if (record?.kind === 'summary') engine.loadSummary(record.summary);
        else if (record?.kind === 'snapshot') engine.load(record.snapshot);
      },
      // The partitions' high-water times stay: event time only moves on, whoever held it meanwhile.
      forget: (which) => engine.forget(which),
    },
  });

  return {
    engine,
    policies: book,
    lag: () => stage.lag(),
    stats: () => ({ ...stats, ...stage.stats(), earlySent: early?.stats().sent ?? 0, earlyFailed: early?.stats().failed ?? 0, policiesApplied: policyFeed.stats().applied, policiesRejected: policyFeed.stats().rejected, pricesApplied: pricing.stats().overridesApplied }),
    async start(): Promise<void> {
      [partitions, standingPartitions] = await Promise.all([log.partitionCount(topics.spans), log.partitionCount(topics.breakerState)]);
      await Promise.all([policyFeed.start(), pricing.start()]);
      await stage.start();
    },
    async stop(): Promise<void> {
      await stage.stop();
      await Promise.all([policyFeed.stop(), pricing.stop(), early?.close()]);
    },
  };
}

export type Processor = ReturnType<typeof createProcessor>;
