/**
 * The breaker processor: a thin shell around the pure engine, exactly once.
 *
 * It consumes spans and control events (co-partitioned: partition N of both, keyed by tree
 * id, belongs to one member), folds them through the engine, and for every batch commits in
 * ONE Kafka transaction: the trips and warnings (control topic), their audit records (audit
 * topic), dead letters, the new state of every tree the batch touched (state changelog), and
 * the batch's consumer offsets. A crash anywhere aborts the transaction: the next owner of the
 * partition restores the trees from the changelog and re-reads from the committed offsets, so
 * nothing is lost, repeated or counted twice. Readers downstream read committed only.
 *
 * One transactional producer per input partition (`<group>.p<N>`): whoever owns partition N
 * next fences the previous owner's producer, so a zombie cannot commit after a rebalance.
 */
import { partitionForKey } from '../../log/partitioner.js';
import type { EventLog, LogBatch, OutgoingMessage, PartitionReader, TransactionalProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { breakerEventCodec, controlEventCodec, SchemaError, type ControlEvent } from '../../schemas/index.js';
import { createEngine, type Engine } from '../../streams/engine.js';
import { createPolicyBook, type PolicyBook } from '../../streams/policies.js';
import { deadLetterFor } from '../dead-letter.js';
import { decodeSpanMessage } from '../decode-span.js';
import type { Logger } from '../logger.js';
import { createPolicyFeed } from '../policy-feed.js';
import { decodeSnapshot, encodeSnapshot } from './state-changelog.js';

export interface ProcessorOptions {
  log: EventLog;
  topics: Topics;
  logger: Logger;
  groupId?: string;
  /** Shared with whoever else needs the policies (tests); otherwise the processor keeps its own. */
  policies?: PolicyBook;
}

export interface ProcessorStats {
  spans: number;
  trips: number;
  warnings: number;
  controlsApplied: number;
  deadLettered: number;
  treesRestored: number;
  transactions: number;
}

export function createProcessor(options: ProcessorOptions) {
  const { log, topics, logger } = options;
  const groupId = options.groupId ?? 'fusebox-processor';
  const book = options.policies ?? createPolicyBook();
  const engine: Engine = createEngine({ policies: book });
  const policyFeed = createPolicyFeed(log, topics.policies, book, logger.child('policies'));
  const stats: ProcessorStats = { spans: 0, trips: 0, warnings: 0, controlsApplied: 0, deadLettered: 0, treesRestored: 0, transactions: 0 };
  const producers = new Map<number, TransactionalProducer>();
  const restored = new Set<number>();
  let stateReader: PartitionReader | null = null;
  let partitions = 0;
  /** Snapshots delivered by the state reader while a partition is being restored. */
  let restoring: { partition: number; snapshots: Map<string, ReturnType<typeof decodeSnapshot>> } | null = null;

  const partitionOf = (treeId: string) => partitionForKey(treeId, partitions);

  async function restore(partition: number): Promise<void> {
    const found = new Map<string, ReturnType<typeof decodeSnapshot>>();
    restoring = { partition, snapshots: found };
    try {
      await stateReader!.follow(partition, 'beginning');
    } finally {
      stateReader!.unfollow(partition);
      restoring = null;
    }
    engine.forget((treeId) => partitionOf(treeId) === partition);
    for (const [, snapshot] of found) {
      if (snapshot) {
        engine.load(snapshot);
        stats.treesRestored += 1;
      }
    }
    restored.add(partition);
  }

  async function producerFor(partition: number): Promise<TransactionalProducer> {
    let producer = producers.get(partition);
    if (!producer) {
      producer = await log.transactionalProducer(`${groupId}.p${partition}`);
      producers.set(partition, producer);
    }
    return producer;
  }

  /** Forget what this partition's trees hold in memory: the changelog is the truth again. */
  function discard(partition: number): void {
    restored.delete(partition);
    engine.forget((treeId) => partitionOf(treeId) === partition);
  }

  async function handleBatch(batch: LogBatch): Promise<void> {
    const partition = batch.partition;
    if (!restored.has(partition)) await restore(partition);
    const producer = await producerFor(partition);

    const controls: OutgoingMessage[] = [];
    const audits: OutgoingMessage[] = [];
    const dead: OutgoingMessage[] = [];
    const touched = new Set<string>();
    let spans = 0;
    let warnings = 0;
    let applied = 0;

    if (batch.topic === topics.spans) {
      for (const message of batch.messages) {
        const decoded = decodeSpanMessage(message);
        if (!decoded.ok) {
          dead.push(deadLetterFor('processor', message, decoded.code, decoded.reason));
          continue;
        }
        spans += 1;
        touched.add(decoded.event.treeId);
        const outcome = engine.apply(decoded.event);
        for (const control of outcome.controls) {
          controls.push({ key: decoded.event.treeId, value: controlEventCodec.encode(control) });
          if (control.action === 'warn') warnings += 1;
        }
        for (const audit of outcome.audits) {
          audits.push({ key: audit.treeId, value: breakerEventCodec.encode(audit) });
          logger.info(audit.action === 'warn' ? 'breaker warning' : 'breaker tripped', { detector: audit.detector, scope: audit.scope, target: audit.target, observed: audit.observed, threshold: audit.threshold, tenant: audit.tenantId, policy: audit.policyId });
        }
      }
    } else {
      for (const message of batch.messages) {
        let event: ControlEvent;
        try {
          event = controlEventCodec.decode(message.value ?? Buffer.alloc(0));
        } catch (error) {
          if (!(error instanceof SchemaError)) throw error;
          dead.push(deadLetterFor('processor', message, error.code, error.message));
          continue;
        }
        if (engine.control(event) && event.treeId) {
          touched.add(event.treeId);
          applied += 1;
        }
      }
    }

    const state = [...touched].map((treeId) => encodeSnapshot(engine.snapshot(treeId)!));
    const next = (BigInt(batch.messages.at(-1)!.offset) + 1n).toString();
    const txn = await producer.begin();
    try {
      // Control first: it is what stops agents (all of it becomes visible at commit anyway).
      await txn.send(topics.control, controls);
      await txn.send(topics.audit, audits);
      await txn.send(topics.deadLetter, dead);
      await txn.send(topics.processorState, state);
      await txn.commit(groupId, [{ topic: batch.topic, partition, offset: next }]);
    } catch (error) {
      await txn.abort().catch(() => {});
      discard(partition);
      throw error;
    }
    stats.transactions += 1;
    stats.spans += spans;
    stats.trips += controls.length - warnings;
    stats.warnings += warnings;
    stats.controlsApplied += applied;
    stats.deadLettered += dead.length;
    if (dead.length > 0) logger.warn('dead-lettered unreadable messages', { count: dead.length, topic: batch.topic, partition });
  }

  const consumer = log.groupConsumer({
    groupId,
    topics: [topics.spans, topics.control],
    fromBeginning: true,
    coPartitioned: true,
    commit: 'in-transaction',
    handleBatch,
    // A new assignment may have moved trees away and back: restore each partition afresh.
    onAssignment: () => {
      restored.clear();
      engine.forget();
    },
    onCrash: (error) => logger.error('processor consumer crashed', { error: error.message }),
  });

  return {
    engine,
    policies: book,
    stats: (): Readonly<ProcessorStats & { policiesApplied: number; policiesRejected: number }> => ({ ...stats, policiesApplied: policyFeed.stats().applied, policiesRejected: policyFeed.stats().rejected }),
    async start(): Promise<void> {
      const [spansPartitions, statePartitions] = await Promise.all([log.partitionCount(topics.spans), log.partitionCount(topics.processorState)]);
      if (spansPartitions !== statePartitions) {
        throw new Error(`topics ${topics.spans} (${spansPartitions} partitions) and ${topics.processorState} (${statePartitions}) must have as many partitions: a tree's state must sit in its spans' partition number`);
      }
      partitions = spansPartitions;
      stateReader = log.reader(topics.processorState, (message) => {
        // Newest wins: compaction may not have run yet, so a key can appear many times.
        if (restoring && message.partition === restoring.partition && message.key !== null) restoring.snapshots.set(message.key, decodeSnapshot(message.key, message.value));
      });
      await stateReader.start();
      await policyFeed.start();
      await consumer.start();
    },
    async stop(): Promise<void> {
      await consumer.stop();
      await Promise.allSettled([policyFeed.stop(), stateReader?.stop(), ...[...producers.values()].map((p) => p.close())]);
      producers.clear();
    },
  };
}

export type Processor = ReturnType<typeof createProcessor>;
