/**
 * The shell of an exactly-once stream stage: consume input topics as a group, keep keyed state
 * in memory, and commit each batch as ONE Kafka transaction holding the batch's outputs, the
 * new state of every key it touched (a compacted changelog partitioned like the input), and
 * the batch's offsets. A crash anywhere aborts the transaction; whoever owns the partition next
 * restores its keys from the changelog and re-reads from the committed offsets.
 *
 * One transactional producer per input partition (`<group>.p<N>`): the next owner of
 * partition N fences the previous owner's producer, so a zombie cannot commit after a
 * rebalance (kafkajs has no KIP-447, which would allow one producer per instance).
 *
 * The changelog also holds, per partition, the next input offset of every input topic (a
 * record under POSITION_KEY, written in the same transaction as the state it goes with). The
 * group's committed offset is not enough on its own: kafkajs cannot ask for stable offsets
 * (OffsetFetch's require_stable, KIP-447), so a member that joins while a transaction is
 * completing may be handed the offset from before it, and re-read a batch whose effects the
 * restored state already holds. Messages below the recorded position are skipped, never folded
 * twice.
 *
 * The stage knows nothing of spans or agents: `handle` folds a batch into the caller's state
 * and says what to publish and which keys changed; `state` says how keys snapshot, restore and
 * are forgotten.
 */
import { partitionForKey } from '../log/partitioner.js';
import { CommitOutcomeUnknown, type EventLog, type LogBatch, type OutgoingMessage, type PartitionReader, type TransactionalProducer } from '../log/port.js';
import type { Logger } from './logger.js';

/** Publishing attempts per batch before the consumer is stopped (and the batch re-read by the next owner). */
const MAX_ATTEMPTS = 5;

/** Changelog key of a partition's input positions; no state key starts with NUL. */
export const POSITION_KEY = '\u0000positions';

type Positions = Map<string, bigint>;

function encodePositions(positions: Positions): Buffer {
  return Buffer.from(JSON.stringify(Object.fromEntries([...positions].map(([topic, next]) => [topic, next.toString()]))));
}

function decodePositions(value: Buffer): Positions {
  const parsed = JSON.parse(value.toString('utf8')) as Record<string, string>;
  return new Map(Object.entries(parsed).map(([topic, next]) => [topic, BigInt(next)]));
}

export interface StageOutput {
  /** Messages to publish, by topic, in the order given (all visible together at commit). */
  publish: Array<[topic: string, messages: OutgoingMessage[]]>;
  /** Keys whose state changed: their snapshots go to the changelog in the same transaction. */
  touched: Iterable<string>;
  /** Runs once the transaction committed (metrics: a batch retried or re-read counts once). */
  onCommit?(): void;
}

export interface KeyedState {
  /** The key's state as a changelog value (null: a tombstone, the key has no state). */
  snapshot(key: string): Buffer | null;
  /** Loads one key's newest changelog value (null: tombstone). */
  restore(key: string, value: Buffer | null): void;
  /** Forgets every key `which` selects: the changelog is the truth for them again. */
  forget(which: (key: string) => boolean): void;
}

/** Keyed state kept as plain JSON-able values in a map: the changelog value is the JSON. */
export function jsonMapState<T>(map: Map<string, T>): KeyedState {
  return {
    snapshot: (key) => (map.has(key) ? Buffer.from(JSON.stringify(map.get(key))) : null),
    restore: (key, value) => {
      if (value === null) map.delete(key);
      else map.set(key, JSON.parse(value.toString('utf8')) as T);
    },
    forget: (which) => {
      for (const key of [...map.keys()]) if (which(key)) map.delete(key);
    },
  };
}

export interface TransactionalStageOptions {
  log: EventLog;
  logger: Logger;
  groupId: string;
  inputs: string[];
  /** Several inputs keyed alike: partition N of each goes to one member. */
  coPartitioned?: boolean;
  changelog: string;
  state: KeyedState;
  handle(batch: LogBatch): Promise<StageOutput> | StageOutput;
}

export function createTransactionalStage(options: TransactionalStageOptions) {
  const { log, logger, groupId, state } = options;
  const producers = new Map<number, TransactionalProducer>();
  /** The input partitions this member was last assigned. */
  let owned = new Set<number>();
  /** Per owned partition: its keys restored and its producer ready (fenced in). */
  const ready = new Map<number, Promise<void>>();
  let reader: PartitionReader | null = null;
  let partitions = 0;
  /** Changelog values delivered for partitions being restored (several may restore at once). */
  const restoring = new Map<number, Map<string, Buffer | null>>();
  /** Per owned partition, the next offset of each input topic that its state already reflects. */
  const positions = new Map<number, Positions>();
  let keysRestored = 0;
  let transactions = 0;
  let retries = 0;
  let redeliveriesSkipped = 0;
  let revokedSkipped = 0;

  const partitionOf = (key: string) => partitionForKey(key, partitions);

  async function restore(partition: number): Promise<void> {
    const values = new Map<string, Buffer | null>();
    restoring.set(partition, values);
    try {
      await reader!.follow(partition, 'beginning');
    } finally {
      reader!.unfollow(partition);
      restoring.delete(partition);
    }
    state.forget((key) => partitionOf(key) === partition);
    const restored = values.get(POSITION_KEY);
    values.delete(POSITION_KEY);
    if (restored) positions.set(partition, decodePositions(restored));
    else positions.delete(partition);
    for (const [key, value] of values) {
      state.restore(key, value);
      if (value !== null) keysRestored += 1;
    }
  }

  /**
   * Readies a partition's producer, then restores its keys; once, a failure lets the next batch
   * retry. The order matters: creating the producer fences the previous owner's and waits for
   * its last transaction to complete or abort, so the changelog read afterwards holds every
   * commit there will ever be from it. Restoring first could miss a commit landing meanwhile.
   */
  function prepare(partition: number): Promise<void> {
    let promise = ready.get(partition);
    if (!promise) {
      promise = producerFor(partition).then(() => restore(partition));
      promise.catch(() => ready.delete(partition));
      ready.set(partition, promise);
    }
    return promise;
  }

  /** What memory holds for this partition may be ahead of what committed: drop it. */
  function discard(partition: number): void {
    ready.delete(partition);
    positions.delete(partition);
    state.forget((key) => partitionOf(key) === partition);
  }

  async function producerFor(partition: number): Promise<TransactionalProducer> {
    let producer = producers.get(partition);
    if (!producer) {
      producer = await log.transactionalProducer(`${groupId}.p${partition}`);
      producers.set(partition, producer);
    }
    return producer;
  }

  /** Per partition number, the batch in flight: spans N and control N share producer N, whose
   *  transactions must not overlap, while different partitions proceed side by side. */
  const inFlight = new Map<number, Promise<void>>();

  function handleBatch(batch: LogBatch): Promise<void> {
    const previous = inFlight.get(batch.partition) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => processBatch(batch));
    inFlight.set(batch.partition, next);
    return next;
  }

  async function processBatch(delivered: LogBatch): Promise<void> {
    const partition = delivered.partition;
    // A batch queued behind another of its partition may find the partition gone to another
    // member meanwhile: folding it here would restore the partition and fence the new owner.
    if (!owned.has(partition)) {
      revokedSkipped += delivered.messages.length;
      return;
    }
    await prepare(partition);
    const producer = await producerFor(partition);
    const position = positions.get(partition)?.get(delivered.topic) ?? 0n;
    const fresh = delivered.messages.filter((m) => BigInt(m.offset) >= position);
    redeliveriesSkipped += delivered.messages.length - fresh.length;
    let output: StageOutput = { publish: [], touched: [] };
    // A batch wholly skipped still commits its offsets, so the group's lag tells the truth.
    if (fresh.length > 0) {
      try {
        output = await options.handle(fresh.length === delivered.messages.length ? delivered : { ...delivered, messages: fresh });
      } catch (error) {
        discard(partition);
        throw error;
      }
    }
    const next = BigInt(delivered.messages.at(-1)!.offset) + 1n;
    const partitionPositions = positions.get(partition) ?? new Map<string, bigint>();
    if (next > position) partitionPositions.set(delivered.topic, next);
    positions.set(partition, partitionPositions);
    const changelog: OutgoingMessage[] = [...output.touched].map((key) => ({ key, value: state.snapshot(key) }));
    changelog.push({ key: POSITION_KEY, value: encodePositions(partitionPositions), partition });
    const entries: Array<[string, OutgoingMessage[]]> = [...output.publish, [options.changelog, changelog]];
    const offsets = [{ topic: delivered.topic, partition, offset: next.toString() }];
    // The batch is folded once; only publishing is retried. The outputs follow from the state
    // already in memory, and a transaction that failed before its commit request committed
    // nothing, so sending them again with a fresh producer is still exactly once. Retrying here rather than crashing the consumer
    // spares a multi-second restart on a transient broker refusal.
    for (let attempt = 1; ; attempt++) {
      const current = attempt === 1 ? producer : await producerFor(partition);
      const txn = await current.begin();
      try {
        await txn.sendBatch(entries);
        await txn.commit(groupId, offsets);
        break;
      } catch (error) {
        await txn.abort().catch(() => {});
        // A producer whose transaction failed may be stuck mid-state ("concurrent operation on
        // the same transaction" ever after): replace it. The new one, same id, fences the old.
        producers.delete(partition);
        await current.close().catch(() => {});
        retries += 1;
        // Republishing after a commit of unknown outcome could publish twice: give up on the
        // batch instead; the consumer restarts from what was committed, state and offsets alike.
        if (attempt >= MAX_ATTEMPTS || error instanceof CommitOutcomeUnknown || !owned.has(partition)) {
          discard(partition);
          throw error;
        }
        logger.warn('transaction failed; retrying with a fresh producer', { partition, attempt, error: (error as Error).message });
        await new Promise((ok) => setTimeout(ok, 20 * attempt));
      }
    }
    transactions += 1;
    output.onCommit?.();
  }

  const consumer = log.groupConsumer({
    groupId,
    topics: options.inputs,
    fromBeginning: true,
    coPartitioned: options.coPartitioned,
    // Partitions side by side: a slow transaction on one does not hold back trips on the
    // others (trip latency p99 under load 234 -> 120 ms). Per partition, batches stay in order.
    concurrency: 4,
    commit: 'in-transaction',
    handleBatch,
    // After a rebalance: partitions no longer ours are forgotten (whoever owns them now may
    // change their state); partitions kept throughout keep their state, even with a batch in
    // flight (clearing it under that batch would let the next one decide on stale state);
    // new ones are restored now rather than at their first batch.
    onAssignment: (assignment) => {
      owned = new Set(assignment.find((a) => a.topic === options.inputs[0])?.partitions ?? []);
      for (const partition of [...ready.keys()]) {
        if (owned.has(partition)) continue;
        discard(partition);
        const producer = producers.get(partition);
        producers.delete(partition);
        producer?.close().catch(() => {});
      }
      for (const partition of owned) prepare(partition).catch((error: Error) => logger.warn('preparing a partition failed; its first batch retries', { partition, error: error.message }));
    },
    onCrash: (error) => logger.error('consumer crashed', { group: groupId, error: error.message }),
  });

  return {
    stats: () => ({ keysRestored, transactions, transactionRetries: retries, redeliveriesSkipped, revokedSkipped }),
    lag: () => consumer.lag(),
    async start(): Promise<void> {
      const counts = await Promise.all([...options.inputs, options.changelog].map((t) => log.partitionCount(t)));
      if (new Set(counts).size !== 1) {
        throw new Error(`topics ${[...options.inputs, options.changelog].map((t, i) => `${t} (${counts[i]})`).join(', ')} must have as many partitions: a key's state must sit in its input's partition number`);
      }
      partitions = counts[0]!;
      reader = log.reader(options.changelog, (message) => {
        // Newest wins: compaction may not have run yet, so a key can appear many times.
        if (message.key !== null) restoring.get(message.partition)?.set(message.key, message.value);
      });
      await reader.start();
      await consumer.start();
      await Promise.allSettled([...ready.values()]);
    },
    async stop(): Promise<void> {
      await consumer.stop();
      await Promise.allSettled([reader?.stop(), ...[...producers.values()].map((p) => p.close())]);
      producers.clear();
    },
  };
}
