/**
 * The shell of an exactly-once stream stage: consume input topics as a group, keep keyed state
 * in memory, and commit what was folded as ONE Kafka transaction holding the outputs, the new
 * state of every key touched (a compacted changelog partitioned like the input), and the input
 * positions that state reflects. A crash anywhere aborts the transaction; whoever owns the
 * partition next restores its keys and positions from the changelog and folds from there.
 *
 * Folding and committing are pipelined per partition: batches are folded as they arrive (the
 * consumer is never held up by a commit in flight), and when a partition's transaction ends,
 * the next one takes everything folded meanwhile. Idle, each batch commits at once; under load,
 * transactions grow instead of queueing up (a trip waits for at most one transaction ahead of
 * its own), and a stage may space them (`minTransactionIntervalMs`: the processor does, its
 * trips travel on the early lane). Folded-but-uncommitted work is bounded (MAX_UNCOMMITTED); a transaction that cannot
 * be committed rewinds the partition: its state is dropped, restored from the changelog, and the
 * consumer seeks back to the last committed positions.
 *
 * One transactional producer per input partition (`<group>.p<N>`): the next owner of
 * partition N fences the previous owner's producer, so a zombie cannot commit after a
 * rebalance (kafkajs has no KIP-447, which would allow one producer per instance).
 *
 * The positions (per partition, the next offset of every input topic: a record under
 * POSITION_KEY) are the truth, not the group's committed offsets. Those are committed after
 * each transaction, outside it, for lag monitoring and as a starting point: never ahead of the
 * positions, sometimes behind, and messages below the recorded positions are skipped, never
 * folded twice. Committing offsets inside the transaction (sendOffsets) would cost two more
 * round trips per transaction (AddOffsetsToTxn, TxnOffsetCommit) and would still not be enough:
 * kafkajs cannot ask for stable offsets (OffsetFetch's require_stable, KIP-447), so a member
 * joining while a transaction completes may be handed the offsets from before it.
 *
 * The stage knows nothing of spans or agents: `handle` folds a batch into the caller's state
 * and says what to publish and which keys changed; `state` says how keys snapshot, restore and
 * are forgotten.
 */
import { partitionForKey } from '../log/partitioner.js';
import { CommitOutcomeUnknown, type EventLog, type LogBatch, type OutgoingMessage, type PartitionReader, type Transaction, type TransactionalProducer } from '../log/port.js';
import type { Logger } from './logger.js';

/** Publishing attempts per transaction before the partition is rewound to its last commit. */
const MAX_ATTEMPTS = 5;

/** Messages folded but not yet committed, per partition, before the consumer waits for a commit. */
const MAX_UNCOMMITTED = 20_000;

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
  snapshot?(key: string): Buffer | null;
  /**
   * Or, instead of `snapshot`, for state kept in parts: the records that bring the changelog up to
   * date with what changed of the key since its last cut. Their keys may be the key's parts'
   * own; they go to the key's partition, and restore receives them as they are.
   */
  changes?(key: string): Array<[key: string, value: Buffer | null]>;
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
  /**
   * Under load, a partition's next transaction is cut no sooner than this after the previous
   * one was (default 0: back to back). Each transaction costs the stage and the broker a fixed
   * round of requests and markers whatever it carries; a stage whose decisions travel without
   * its transactions (the processor's early lane) can let them grow. Idle, a batch still commits
   * at once. Wall-clock pacing of I/O only: nothing folded depends on it.
   */
  minTransactionIntervalMs?: number;
}

export function createTransactionalStage(options: TransactionalStageOptions) {
  const { log, logger, groupId, state } = options;
  const minTransactionIntervalMs = options.minTransactionIntervalMs ?? 0;
  if (!state.snapshot && !state.changes) throw new Error('a stage\'s state needs snapshot or changes');
  const producers = new Map<number, TransactionalProducer>();
  /** Per owned partition: its keys restored and its producer ready (fenced in). */
  const ready = new Map<number, Promise<void>>();
  /** The input partitions this member was last assigned. */
  let owned = new Set<number>();
  let reader: PartitionReader | null = null;
  let partitions = 0;
  /** Changelog values delivered for partitions being restored (several may restore at once). */
  const restoring = new Map<number, Map<string, Buffer | null>>();
  /** Per partition, the next offset of each input topic that its in-memory state reflects. */
  const positions = new Map<number, Positions>();
  /** Per partition, the positions as of its last commit (or restore): where a rewind goes. */
  const committed = new Map<number, Positions>();
  /** Per partition, what was folded since the transaction in flight (or the last) was cut. */
  const uncommitted = new Map<number, Uncommitted>();
  /** Per partition, its commit loop while one runs, and the transaction it is publishing. */
  const committing = new Map<number, Promise<void>>();
  const publishing = new Map<number, Promise<unknown>>();
  /** Bumped whenever a partition's in-memory work is dropped: older work must not land. */
  const epochs = new Map<number, number>();
  let keysRestored = 0;
  let transactions = 0;
  let retries = 0;
  let rewinds = 0;
  let redeliveriesSkipped = 0;
  let revokedSkipped = 0;

  const partitionOf = (key: string) => partitionForKey(key, partitions);
  const epochOf = (partition: number) => epochs.get(partition) ?? 0;

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
    const recorded = values.get(POSITION_KEY);
    values.delete(POSITION_KEY);
    // No record yet: a new group, or one committed before positions were recorded. Its
    // committed offsets are the positions then (and where a rewind must go).
    const restored = recorded ? decodePositions(recorded) : await groupPositions(partition);
    positions.set(partition, restored);
    committed.set(partition, new Map(restored));
    for (const [key, value] of values) {
      state.restore(key, value);
      if (value !== null) keysRestored += 1;
    }
    // The group's offsets may be behind what committed (the last owner lost the partition before
    // its offset commit): bring them up now, as the redeliveries below the positions will be
    // skipped and, on a quiet log, no transaction would follow to commit them.
    if (recorded) commitGroupOffsets(partition, [...restored].map(([topic, next]) => ({ topic, partition, offset: next.toString() })));
  }

  async function groupPositions(partition: number): Promise<Positions> {
    const out: Positions = new Map();
    for (const topic of options.inputs) {
      const offset = (await log.committedOffsets(groupId, topic)).get(partition);
      if (offset !== undefined) out.set(topic, offset);
    }
    return out;
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
    epochs.set(partition, epochOf(partition) + 1);
    ready.delete(partition);
    positions.delete(partition);
    uncommitted.delete(partition);
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

  /** Per partition number, the steps that touch its state, one at a time and in order: folds
   *  of its batches (spans N and control N alike), the cuts of its transactions, rewinds. */
  const steps = new Map<number, Promise<unknown>>();

  function serially<T>(partition: number, step: () => Promise<T> | T): Promise<T> {
    const next = (steps.get(partition) ?? Promise.resolve()).catch(() => {}).then(step);
    steps.set(partition, next);
    return next;
  }

  async function handleBatch(batch: LogBatch): Promise<void> {
    // A batch queued before a rewind of its partition would fold out of order: it comes again.
    const epoch = epochOf(batch.partition);
    await serially(batch.partition, () => (epochOf(batch.partition) === epoch ? fold(batch) : undefined));
    // Back-pressure: the consumer fetches no more while too much is folded but not committed.
    const pending = uncommitted.get(batch.partition);
    if (pending && pending.messages >= MAX_UNCOMMITTED) await publishing.get(batch.partition)?.catch(() => {});
  }

  async function fold(delivered: LogBatch): Promise<void> {
    const partition = delivered.partition;
    // A batch queued behind another of its partition may find the partition gone to another
    // member meanwhile: folding it here would restore the partition and fence the new owner.
    if (!owned.has(partition)) {
      revokedSkipped += delivered.messages.length;
      return;
    }
    await prepare(partition);
    const position = positions.get(partition)?.get(delivered.topic) ?? 0n;
    // Offsets ascend within a batch: when its first is fresh (nearly always), all are, and no
    // offset but that one is parsed.
    const first = delivered.messages[0];
    const fresh = first === undefined || BigInt(first.offset) >= position ? delivered.messages : delivered.messages.filter((m) => BigInt(m.offset) >= position);
    redeliveriesSkipped += delivered.messages.length - fresh.length;
    if (fresh.length === 0) return;
    let output: StageOutput;
    try {
      output = await options.handle(fresh.length === delivered.messages.length ? delivered : { ...delivered, messages: fresh });
    } catch (error) {
      // The state may be half-changed: drop everything since the last commit and re-read it.
      rewind(partition, error as Error);
      throw error;
    }
    positions.get(partition)!.set(delivered.topic, BigInt(delivered.messages.at(-1)!.offset) + 1n);
    const pending = uncommitted.get(partition) ?? { outputs: [], touched: new Set<string>(), messages: 0, onCommits: [] };
    for (const entry of output.publish) if (entry[1].length > 0) pending.outputs.push(entry);
    for (const key of output.touched) pending.touched.add(key);
    pending.messages += delivered.messages.length;
    if (output.onCommit) pending.onCommits.push(output.onCommit);
    uncommitted.set(partition, pending);
    if (!committing.has(partition)) {
      committing.set(partition, commitLoop(partition).finally(() => committing.delete(partition)));
    }
  }

  /** Per partition, when its last transaction was cut (Date.now ms): the pacing's reference. */
  const lastCutAt = new Map<number, number>();

  /** Commits what the partition has folded, transaction after transaction, until nothing is left. */
  async function commitLoop(partition: number): Promise<void> {
    for (;;) {
      const wait = (lastCutAt.get(partition) ?? 0) + minTransactionIntervalMs - Date.now();
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
      const cut = await serially(partition, () => cutTransaction(partition));
      if (cut) lastCutAt.set(partition, Date.now());
      if (!cut) return;
      const published = publish(partition, cut).catch(async (error: Error) => {
        // Whatever went wrong, the cut is not known to be committed: re-read it from the last commit.
        if (owned.has(partition) && epochOf(partition) === cut.epoch) await serially(partition, () => rewind(partition, error));
        return false;
      });
      publishing.set(partition, published);
      const ok = await published;
      publishing.delete(partition);
      if (!ok) return;
    }
  }

  /** Everything folded so far, as one transaction: taken between folds, so the snapshots and
   *  positions are exactly those of the outputs it carries. */
  function cutTransaction(partition: number): Cut | null {
    const pending = uncommitted.get(partition);
    if (!pending || !owned.has(partition) || !positions.has(partition)) return null;
    uncommitted.delete(partition);
    const at = new Map(positions.get(partition)!);
    const changelog: OutgoingMessage[] = [];
    for (const key of pending.touched) {
      if (!state.changes) changelog.push({ key, value: state.snapshot!(key) });
      else for (const [part, value] of state.changes(key)) changelog.push({ key: part, value, partition });
    }
    changelog.push({ key: POSITION_KEY, value: encodePositions(at), partition });
    const offsets = [...at].map(([topic, next]) => ({ topic, partition, offset: next.toString() }));
    return { epoch: epochOf(partition), entries: [...pending.outputs, [options.changelog, changelog]], offsets, positions: at, onCommits: pending.onCommits };
  }

  /** Publishes a cut with retries; false when it had to give up (the partition is rewound). */
  async function publish(partition: number, cut: Cut): Promise<boolean> {
    // The outputs follow from state already folded, and a transaction that failed before its
    // commit request committed nothing, so sending them again with a fresh producer is still
    // exactly once. Retrying here spares a rewind on a transient broker refusal.
    for (let attempt = 1; ; attempt++) {
      if (epochOf(partition) !== cut.epoch) return false; // dropped meanwhile (revoked, rewound)
      let current: TransactionalProducer | undefined;
      let txn: Transaction | undefined;
      try {
        // Inside the try: a broker that is away fails the producer's creation too, and a cut
        // whose publishing throws past this loop would be lost while its state stays folded.
        current = await producerFor(partition);
        txn = await current.begin();
        await txn.sendBatch(cut.entries);
        await txn.commit(); // the positions are in the changelog: see the header
        break;
      } catch (error) {
        await txn?.abort().catch(() => {});
        // A producer whose transaction failed may be stuck mid-state ("concurrent operation on
        // the same transaction" ever after): replace it. The new one, same id, fences the old.
        if (current && producers.get(partition) === current) producers.delete(partition);
        await current?.close().catch(() => {});
        retries += 1;
        // Republishing after a commit of unknown outcome could publish twice: rewind instead;
        // the restore then holds whatever did commit, state and positions alike.
        if (attempt >= MAX_ATTEMPTS || error instanceof CommitOutcomeUnknown || !owned.has(partition)) {
          if (owned.has(partition) && epochOf(partition) === cut.epoch) await serially(partition, () => rewind(partition, error as Error));
          return false;
        }
        logger.warn('transaction failed; retrying with a fresh producer', { partition, attempt, error: (error as Error).message });
        await new Promise((ok) => setTimeout(ok, 20 * attempt));
      }
    }
    if (epochOf(partition) !== cut.epoch) return true; // committed, but the partition moved on
    committed.set(partition, cut.positions);
    transactions += 1;
    commitGroupOffsets(partition, cut.offsets);
    for (const onCommit of cut.onCommits) onCommit();
    return true;
  }

  /** Per partition, the group offset commits in flight, kept in order (an older one must not land last). */
  const offsetCommits = new Map<number, Promise<void>>();
  /** Per partition, the newest offsets to commit for the group. */
  const groupOffsets = new Map<number, Cut['offsets']>();

  /**
   * Commits the positions as the group's offsets, after the transaction that recorded them. A
   * failure (a rebalance under way) leaves the group's offsets behind, never wrong, and is
   * retried while the partition stays ours, so lag reads true once the log goes quiet.
   */
  function commitGroupOffsets(partition: number, offsets: Cut['offsets'], attempt = 1): void {
    groupOffsets.set(partition, offsets);
    const next = (offsetCommits.get(partition) ?? Promise.resolve()).then(async () => {
      if (groupOffsets.get(partition) !== offsets) return; // a newer commit supersedes this one
      try {
        await consumer.commit(offsets);
      } catch {
        if (attempt < 20) setTimeout(() => { if (owned.has(partition) && groupOffsets.get(partition) === offsets) commitGroupOffsets(partition, offsets, attempt + 1); }, 500).unref();
      }
    });
    offsetCommits.set(partition, next);
    void next.then(() => { if (offsetCommits.get(partition) === next) offsetCommits.delete(partition); });
  }

  /** Drops what the partition folded since its last commit and reads it again from there. */
  function rewind(partition: number, error: Error): void {
    const to = committed.get(partition);
    rewinds += 1;
    logger.error('rewinding a partition to its last commit', { partition, error: error.message });
    discard(partition);
    try {
      for (const topic of options.inputs) consumer.seek(topic, partition, to?.get(topic) ?? 0n);
    } catch (seekError) {
      // A consumer that is not running re-joins from the committed offsets anyway.
      logger.warn('could not seek back; the consumer re-reads from its committed offsets when it runs again', { partition, error: (seekError as Error).message });
    }
  }

  const consumer = log.groupConsumer({
    groupId,
    topics: options.inputs,
    fromBeginning: true,
    coPartitioned: options.coPartitioned,
    // Partitions side by side: each folds as its batches come; commits never block fetching.
    concurrency: 4,
    commit: 'by-handler',
    handleBatch,
    // After a rebalance: partitions no longer ours are forgotten (whoever owns them now may
    // change their state; an uncommitted fold of theirs is dropped, the new owner re-reads it);
    // partitions kept throughout keep their state; new ones are restored now rather than at
    // their first batch.
    onAssignment: (assignment) => {
      owned = new Set(assignment.find((a) => a.topic === options.inputs[0])?.partitions ?? []);
      for (const partition of [...ready.keys()]) {
        if (owned.has(partition)) continue;
        discard(partition);
        committed.delete(partition);
        groupOffsets.delete(partition);
        const producer = producers.get(partition);
        producers.delete(partition);
        producer?.close().catch(() => {});
      }
      for (const partition of owned) prepare(partition).catch((error: Error) => logger.warn('preparing a partition failed; its first batch retries', { partition, error: error.message }));
    },
    onCrash: (error) => logger.error('consumer crashed', { group: groupId, error: error.message }),
  });

  return {
    stats: () => ({ keysRestored, transactions, transactionRetries: retries, rewinds, redeliveriesSkipped, revokedSkipped }),
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
    /** Stops consuming, then commits what was folded (a graceful stop leaves nothing to re-read). */
    async stop(): Promise<void> {
      await consumer.stop();
      while (committing.size > 0) await Promise.allSettled([...committing.values()]);
      await Promise.allSettled([...offsetCommits.values()]);
      // Nothing is ours any more: offset commits still waiting to retry give up.
      owned = new Set();
      await Promise.allSettled([reader?.stop(), ...[...producers.values()].map((p) => p.close())]);
      producers.clear();
    },
  };
}

interface Uncommitted {
  outputs: Array<[string, OutgoingMessage[]]>;
  touched: Set<string>;
  messages: number;
  onCommits: Array<() => void>;
}

interface Cut {
  epoch: number;
  entries: Array<[string, OutgoingMessage[]]>;
  offsets: Array<{ topic: string; partition: number; offset: string }>;
  positions: Positions;
  onCommits: Array<() => void>;
}
