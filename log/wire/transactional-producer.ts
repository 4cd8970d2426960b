/**
 * Fusebox's own transactional producer: what the processor and the two stages commit their
 * outputs, state changelog and positions with. kafkajs's transactional path cost the processor
 * about a tenth of its CPU (a per-record Encoder, a JavaScript CRC of every batch, a quadratic
 * grouping by partition), the same costs the plain producer was written to remove.
 *
 * The protocol, as the Java client runs it: FindCoordinator for the transactional id, then
 * InitProducerId (a producer id and epoch; a newer epoch fences every older holder of the id
 * and aborts what it left open, waiting for a transaction that is completing: the broker answers
 * CONCURRENT_TRANSACTIONS meanwhile and we ask again). A transaction adds each partition before
 * its first batch there (AddPartitionsToTxn), writes batches that carry the producer id, epoch
 * and a per-partition sequence number (so a retried batch that had landed is recognised:
 * DUPLICATE_SEQUENCE_NUMBER), and ends with EndTxn, commit or abort. A transaction that wrote
 * nothing needs no EndTxn.
 *
 * Failures: coordinator moves and loads, CONCURRENT_TRANSACTIONS (the previous transaction's
 * markers still being written) and stale leaders are retried with a short doubling backoff (10
 * ms to 1 s, as the kafkajs settings it replaces). A fenced producer (INVALID_PRODUCER_EPOCH,
 * PRODUCER_FENCED) fails for good: another instance owns the id now. After any other failure
 * inside a transaction, the next begin() asks for a new epoch first, which aborts what is open
 * and restarts the sequence numbers, so a batch whose fate is unknown can never be mistaken
 * for a duplicate of a later one.
 */
import type { BrokerConnection } from './connection.js';
import { createCluster } from './cluster.js';
import { KafkaProduceError } from './producer.js';
import { API_PRODUCE, decodeProduce, describeError, produceRequestBodyTopics } from './protocol.js';
import { type BatchRecord, encodeRecordBatches, nextSequence } from './record-batch.js';
import {
  addPartitionsToTxnBody, API_ADD_PARTITIONS_TO_TXN, API_END_TXN, API_FIND_COORDINATOR, API_INIT_PRODUCER_ID, COORDINATOR_TRANSACTION,
  decodeAddPartitionsToTxn, decodeEndTxn, decodeFindCoordinator, decodeInitProducerId, endTxnBody, findCoordinatorBody, initProducerIdBody, type TxnIdentity,
} from './txn-protocol.js';

export interface WireTransactionalProducerOptions {
  brokers: string[];
  clientId: string;
  transactionalId: string;
  /** The coordinator aborts a transaction left open this long. Default 30 s. */
  transactionTimeoutMs?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Attempts after the first, per request. Default 30 (about 20 s of backoff: a coordinator moving, a leader elected). */
  retries?: number;
  maxBatchBytes?: number;
}

export interface TxnMessage extends BatchRecord {
  partition: number;
}

export interface WireTransaction {
  send(entries: ReadonlyArray<[topic: string, messages: readonly TxnMessage[]]>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

const ACKS_ALL = -1;
const FENCED = new Set([47, 90]); // INVALID_PRODUCER_EPOCH, PRODUCER_FENCED
const COORDINATOR_MOVED = new Set([15, 16]); // COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
const DUPLICATE_SEQUENCE = 46;

/** A refusal that ends the attempt at once: fenced, or an error no retry cures. */
class Refused extends KafkaProduceError {}

export function createWireTransactionalProducer(options: WireTransactionalProducerOptions) {
  const { transactionalId } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const retries = options.retries ?? 30;
  const maxBatchBytes = options.maxBatchBytes ?? 1_000_000;
  const cluster = createCluster({
    brokers: options.brokers, clientId: options.clientId, requestTimeoutMs, connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    error: (message, retriable) => new KafkaProduceError(message, retriable),
  });
  let coordinator: BrokerConnection | null = null;
  let identity: TxnIdentity | null = null;
  /** Next sequence number per `topic NUL partition`, for the current epoch. */
  let sequences = new Map<string, number>();
  let fenced: Error | null = null;
  /** A transaction failed midway: the next begin() takes a new epoch first. */
  let needsNewEpoch = false;
  /** A transaction is open (begun, neither committed nor aborted). */
  let open = false;
  let closed = false;

  const backoff = (attempt: number) => sleep(Math.min(1_000, 10 * 2 ** (attempt - 1)));

  /** `call` with retries of retriable failures; a fencing error is remembered and thrown for good. */
  async function retrying<T>(what: string, call: () => Promise<T>): Promise<T> {
    let lastError: Error | null = null;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (closed) throw new KafkaProduceError(`${what}: the producer is closed`, false);
      if (attempt > 0) await backoff(attempt);
      try {
        return await call();
      } catch (error) {
        if (error instanceof Refused) throw error;
        if (error instanceof KafkaProduceError && !error.retriable) throw error;
        lastError = error as Error;
      }
    }
    throw new KafkaProduceError(`${what} for transactional id '${transactionalId}' failed ${retries + 1} times: ${lastError?.message}`, true);
  }

  /** Throws for a coordinator's error code: retriable ones after forgetting a moved coordinator. */
  function check(what: string, code: number): void {
    if (code === 0) return;
    const error = describeError(code);
    const message = `${what} for transactional id '${transactionalId}': ${error.name}`;
    if (FENCED.has(code)) {
      fenced = new Refused(`${message} (another producer with this id took over)`, false);
      throw fenced;
    }
    if (COORDINATOR_MOVED.has(code)) coordinator = null;
    throw error.retriable ? new KafkaProduceError(message, true) : new Refused(message, false);
  }

  async function coordinatorConnection(): Promise<BrokerConnection> {
    if (coordinator?.alive) return coordinator;
    const { answer } = await cluster.anyBroker(async (c) => decodeFindCoordinator(await c.request(API_FIND_COORDINATOR, 1, [findCoordinatorBody(transactionalId, COORDINATOR_TRANSACTION)])));
    check('FindCoordinator', answer.errorCode);
    coordinator = cluster.connection(answer.host, answer.port);
    return coordinator;
  }

  async function askCoordinator(apiKey: number, version: number, body: Buffer): Promise<Buffer> {
    const connection = await coordinatorConnection();
    try {
      return await connection.request(apiKey, version, [body]);
    } catch (error) {
      coordinator = null;
      throw new KafkaProduceError(`the transaction coordinator of '${transactionalId}' did not answer: ${(error as Error).message}`, true);
    }
  }

  async function newEpoch(): Promise<void> {
    const answer = await retrying('InitProducerId', async () => {
      const decoded = decodeInitProducerId(await askCoordinator(API_INIT_PRODUCER_ID, 0, initProducerIdBody(transactionalId, options.transactionTimeoutMs ?? 30_000)));
      check('InitProducerId', decoded.errorCode);
      return decoded;
    });
    identity = { transactionalId, producerId: answer.producerId, epoch: answer.epoch };
    sequences = new Map();
    needsNewEpoch = false;
  }

  async function addPartitions(txn: TxnIdentity, partitions: Map<string, Set<number>>): Promise<void> {
    const topics = [...partitions].map(([topic, set]) => ({ topic, partitions: [...set] }));
    await retrying('AddPartitionsToTxn', async () => {
      for (const result of decodeAddPartitionsToTxn(await askCoordinator(API_ADD_PARTITIONS_TO_TXN, 0, addPartitionsToTxnBody(txn, topics)))) {
        // OPERATION_NOT_ATTEMPTED (55) marks the partitions held back by another's error.
        if (result.errorCode !== 55) check(`AddPartitionsToTxn (${result.topic} ${result.partition})`, result.errorCode);
      }
    });
  }

  /** Writes each partition's batches, in order, to its leader; retries resend the same bytes (same sequence). */
  async function produce(txn: TxnIdentity, unsent: Map<string, { topic: string; partition: number; batches: Buffer[]; counts: number[] }>): Promise<void> {
    await retrying('Produce', async () => {
      while (unsent.size > 0) {
        const byLeader = new Map<number, Map<string, Array<{ partition: number; batch: Buffer }>>>();
        for (const { topic, partition, batches } of unsent.values()) {
          const leaders = (await cluster.metadataOf(topic)).leaders;
          if (partition < 0 || partition >= leaders.length) throw new Refused(`topic '${topic}' has no partition ${partition} (it has ${leaders.length})`, false);
          const leader = leaders[partition]!;
          if (leader < 0) {
            cluster.forget(topic);
            throw new KafkaProduceError(`partition ${partition} of '${topic}' has no leader (LEADER_NOT_AVAILABLE)`, true);
          }
          const topics = byLeader.get(leader) ?? new Map<string, Array<{ partition: number; batch: Buffer }>>();
          byLeader.set(leader, topics);
          const list = topics.get(topic) ?? [];
          topics.set(topic, list);
          list.push({ partition, batch: batches[0]! });
        }
        // Settled, not raced: a retry must not start while an answer could still move the sequences.
        const outcomes = await Promise.allSettled([...byLeader].map(async ([leader, topics]) => {
          const connection = cluster.connectionTo(leader);
          if (!connection) {
            for (const topic of topics.keys()) cluster.forget(topic);
            throw new KafkaProduceError(`leader ${leader} is not among the known brokers`, true);
          }
          let body: Buffer;
          try {
            body = await connection.request(API_PRODUCE, 3, produceRequestBodyTopics([...topics].map(([topic, batches]) => ({ topic, batches })), ACKS_ALL, requestTimeoutMs, txn.transactionalId));
          } catch (error) {
            for (const topic of topics.keys()) cluster.forget(topic);
            throw new KafkaProduceError(`broker ${leader}: ${(error as Error).message}`, true);
          }
          let failure: Error | null = null;
          for (const result of decodeProduce(body)) {
            const key = `${result.topic}\u0000${result.partition}`;
            if (result.errorCode === 0 || result.errorCode === DUPLICATE_SEQUENCE) {
              const entry = unsent.get(key)!;
              entry.batches.shift();
              sequences.set(key, nextSequence(sequences.get(key) ?? 0, entry.counts.shift()!));
              if (entry.batches.length === 0) unsent.delete(key);
              continue;
            }
            const error = describeError(result.errorCode);
            if (FENCED.has(result.errorCode)) check('Produce', result.errorCode);
            if (!error.retriable) throw new Refused(`partition ${result.partition} of '${result.topic}' on broker ${leader}: ${error.name}`, false);
            if (error.staleLeader) cluster.forget(result.topic);
            failure ??= new KafkaProduceError(`partition ${result.partition} of '${result.topic}' on broker ${leader}: ${error.name}`, true);
          }
          if (failure) throw failure;
        }));
        const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
      }
    });
  }

  async function endTxn(txn: TxnIdentity, commit: boolean): Promise<void> {
    // Asking again after an answer was lost is safe: the coordinator answers a repeated EndTxn
    // for a transaction it already completed the same way as the first.
    await retrying(commit ? 'EndTxn (commit)' : 'EndTxn (abort)', async () => {
      check(commit ? 'EndTxn (commit)' : 'EndTxn (abort)', decodeEndTxn(await askCoordinator(API_END_TXN, 0, endTxnBody(txn, commit))));
    });
  }

  return {
    /** Takes the id's epoch (fencing any older holder); retried until the coordinator answers. */
    async init(): Promise<void> {
      await newEpoch();
    },
    async begin(): Promise<WireTransaction> {
      if (fenced) throw fenced;
      if (closed) throw new KafkaProduceError('the producer is closed', false);
      if (open) throw new KafkaProduceError(`a transaction of '${transactionalId}' is still open: commit or abort it first`, false);
      if (!identity || needsNewEpoch) await newEpoch();
      const txn = identity!;
      /** Partitions this transaction has added, as `topic NUL partition`. */
      const added = new Set<string>();
      let ended = false;
      open = true;
      const finish = () => {
        ended = true;
        open = false;
      };
      /** Marks the producer for a new epoch when `step` fails: a batch's fate or the coordinator's state is unknown. */
      const guarded = async (step: () => Promise<void>) => {
        if (ended) throw new KafkaProduceError(`the transaction of '${transactionalId}' has already ended`, false);
        try {
          await step();
        } catch (error) {
          needsNewEpoch = true;
          throw error;
        }
      };
      return {
        send: (entries) => guarded(async () => {
          const timestampMs = Date.now();
          const toAdd = new Map<string, Set<number>>();
          const byPartition = new Map<string, { topic: string; partition: number; messages: TxnMessage[] }>();
          for (const [topic, messages] of entries) {
            for (const message of messages) {
              const key = `${topic}\u0000${message.partition}`;
              let entry = byPartition.get(key);
              if (!entry) {
                entry = { topic, partition: message.partition, messages: [] };
                byPartition.set(key, entry);
                if (!added.has(key)) toAdd.set(topic, (toAdd.get(topic) ?? new Set()).add(message.partition));
              }
              entry.messages.push(message);
            }
          }
          if (byPartition.size === 0) return;
          if (toAdd.size > 0) {
            await addPartitions(txn, toAdd);
            for (const [topic, set] of toAdd) for (const partition of set) added.add(`${topic}\u0000${partition}`);
          }
          const unsent = new Map<string, { topic: string; partition: number; batches: Buffer[]; counts: number[] }>();
          for (const [key, { topic, partition, messages }] of byPartition) {
            const batches = encodeRecordBatches(messages, timestampMs, maxBatchBytes, { producerId: txn.producerId, epoch: txn.epoch, baseSequence: sequences.get(key) ?? 0, transactional: true });
            // Each batch's record count, to move the partition's sequence on as each lands.
            const counts = batches.map((batch) => batch.readInt32BE(57));
            unsent.set(key, { topic, partition, batches, counts });
          }
          await produce(txn, unsent);
        }),
        commit: () => guarded(async () => {
          if (added.size > 0) await endTxn(txn, true);
          finish();
        }).catch((error: Error) => {
          finish();
          throw error;
        }),
        async abort() {
          if (ended) return;
          try {
            if (added.size > 0) await endTxn(txn, false);
          } catch {
            needsNewEpoch = true; // a new epoch aborts it for us
          } finally {
            finish();
          }
        },
      };
    },
    async close(): Promise<void> {
      closed = true;
      cluster.close();
      coordinator = null;
    },
  };
}

export type WireTransactionalProducer = ReturnType<typeof createWireTransactionalProducer>;

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
