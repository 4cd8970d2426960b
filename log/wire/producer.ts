/**
 * Fusebox's own Kafka producer for plain (non-transactional) sends: Metadata to find each
 * partition's leader, then one Produce request per leader carrying one record batch per
 * partition (record-batch.ts), acks=all. It exists because kafkajs's produce path cost 13-46 µs
 * of CPU per span, four times this one's (a per-record Encoder, spread copies, a quadratic
 * grouping of messages by partition: BENCHMARKS.md, Finding 0), which on the agent's host is
 * the client's main cost and on a 2-core box a share of the pipeline's. kafkajs keeps everything else: consumers, admin, and the
 * processor's transactions.
 *
 * Not idempotent: a request whose answer is lost (a timeout, a connection dropped after the
 * write) is sent again and may land twice. Every consumer of Fusebox's topics already takes
 * duplicates (the engine's per-tree event-id window, the tables' dedup by event id), and the
 * agent client's own retries of a failed batch were new kafkajs sends (new sequence numbers)
 * anyway, so kafkajs's idempotence never covered them.
 *
 * Retries: an attempt that fails on a retriable error (a leader moved or is being elected, a
 * broker unreachable, a timeout) is retried for the partitions that did not land, after a
 * metadata refresh where the error says the leader is stale, with a doubling backoff; a
 * non-retriable error (a batch too large, a missing partition) fails at once with its Kafka
 * error name. Order: within a partition, a batch is sent only after the previous attempt of
 * the same send() has failed, and sends on one connection are answered in order; two
 * concurrent send() calls to one partition keep their relative order only if neither retries.
 */
import { createCluster } from './cluster.js';
import { API_PRODUCE, decodeProduce, describeError, produceRequestBody, type TopicMetadata } from './protocol.js';
import { type BatchRecord, encodeRecordBatches } from './record-batch.js';

export interface WireProducerOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId: string;
  /** A request unanswered this long fails its connection (and is retried). Default 30 s. */
  requestTimeoutMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Attempts after the first. Default 8 (about 16 s of backoff in all, as the kafkajs producer it replaces). */
  retries?: number;
  /** First backoff, doubled per attempt up to `maxRetryMs`. Default 100 ms. */
  initialRetryMs?: number;
  /** Default 5 s. */
  maxRetryMs?: number;
  /**
   * Largest record batch sent (one per partition per request); more records for a partition go
   * in further requests, in order. Default 1,000,000 bytes, under the broker's default
   * message.max.bytes (1 MiB + 12).
   */
  maxBatchBytes?: number;
}

export interface WireMessage extends BatchRecord {
  partition: number;
}

/** A send that failed: the Kafka error name (or the connection failure) and whether retrying later can help. */
export class KafkaProduceError extends Error {
  override name = 'KafkaProduceError';
  constructor(message: string, readonly retriable: boolean) {
    super(message);
  }
}

export interface WireProducer {
  /** Asks a bootstrap broker for the cluster's brokers, retrying for about 3 s: fails if none answers. */
  connect(): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas. */
  send(topic: string, messages: readonly WireMessage[]): Promise<void>;
  partitionCount(topic: string): Promise<number>;
  close(): Promise<void>;
}

const ACKS_ALL = -1;
/** Attempts after the first at connect(): backoffs of 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s. */
const CONNECT_RETRIES = 5;

export function createWireProducer(options: WireProducerOptions): WireProducer {
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const retries = options.retries ?? 8;
  const initialRetryMs = options.initialRetryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 5_000;
  const maxBatchBytes = options.maxBatchBytes ?? 1_000_000;
  const cluster = createCluster({ brokers: options.brokers, clientId: options.clientId, requestTimeoutMs, connectTimeoutMs, error: (message, retriable) => new KafkaProduceError(message, retriable) });
  const metadataOf = cluster.metadataOf;
  let closed = false;

  /** Before attempt `attempt` (1, 2, ...): doubling, capped, with ±20% jitter so many producers do not retry in step. */
  function backoff(attempt: number): number {
    return Math.min(maxRetryMs, initialRetryMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
  }

  /** `call`, tried again after each failure with the backoff, `attempts` more times at most. */
  async function retrying<T>(call: () => Promise<T>, attempts: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(backoff(attempt));
      try {
        return await call();
      } catch (error) {
        if (attempt >= attempts || closed) throw error;
      }
    }
  }

  /** Sends `batches` to `leader`; returns the partitions that landed and the first retriable failure. */
  async function produceTo(topic: string, leader: number, batches: Array<{ partition: number; batch: Buffer }>): Promise<{ landed: number[]; failure: Error | null }> {
    const connection = cluster.connectionTo(leader);
    if (!connection) {
      cluster.forget(topic);
      return { landed: [], failure: new KafkaProduceError(`leader ${leader} of topic '${topic}' is not among the known brokers`, true) };
    }
    let body: Buffer;
    try {
      body = await connection.request(API_PRODUCE, 3, produceRequestBody(topic, batches, ACKS_ALL, requestTimeoutMs));
    } catch (error) {
      cluster.forget(topic); // the leader may have moved or died: ask again before the next attempt
      return { landed: [], failure: error as Error };
    }
    const landed: number[] = [];
    let failure: Error | null = null;
    for (const result of decodeProduce(body)) {
      if (result.errorCode === 0) {
        landed.push(result.partition);
        continue;
      }
      const error = describeError(result.errorCode);
      const message = `partition ${result.partition} of '${topic}' on broker ${leader}: ${error.name}`;
      if (!error.retriable) throw new KafkaProduceError(message, false);
      if (error.staleLeader) cluster.forget(topic);
      failure ??= new KafkaProduceError(message, true);
    }
    return { landed, failure };
  }

  return {
    async connect() {
      // Retried for about 3 s (as kafkajs's connect was): an agent started moments before its
      // broker still connects, and one pointed at the wrong address hears it soon.
      await retrying(() => cluster.askAnyBroker([]), Math.min(retries, CONNECT_RETRIES));
    },
    async send(topic, messages) {
      if (closed) throw new KafkaProduceError('the producer is closed', false);
      if (messages.length === 0) return;
      const timestampMs = Date.now();
      const byPartition = new Map<number, WireMessage[]>();
      for (const message of messages) {
        const list = byPartition.get(message.partition);
        if (list) list.push(message);
        else byPartition.set(message.partition, [message]);
      }
      // Encoded once: a retry sends the same bytes. Each partition's batches go one per
      // request, in order: the next only once the broker has the one before.
      const unsent = new Map<number, Buffer[]>();
      for (const [partition, list] of byPartition) unsent.set(partition, encodeRecordBatches(list, timestampMs, maxBatchBytes));

      let lastError: Error | null = null;
      // Attempts in a row that landed nothing; progress on any partition starts the count again.
      for (let failed = 0; failed <= retries;) {
        if (failed > 0) await sleep(backoff(failed));
        if (closed) throw new KafkaProduceError('the producer closed while sending', false);
        let metadata: TopicMetadata;
        try {
          metadata = await metadataOf(topic);
        } catch (error) {
          lastError = error as Error;
          failed++;
          continue;
        }
        const byLeader = new Map<number, Array<{ partition: number; batch: Buffer }>>();
        for (const [partition, queue] of unsent) {
          const batch = queue[0]!;
          if (partition < 0 || partition >= metadata.leaders.length) throw new KafkaProduceError(`topic '${topic}' has no partition ${partition} (it has ${metadata.leaders.length})`, false);
          const leader = metadata.leaders[partition]!;
          if (leader < 0) {
            cluster.forget(topic);
            lastError = new KafkaProduceError(`partition ${partition} of '${topic}' has no leader (LEADER_NOT_AVAILABLE)`, true);
            continue;
          }
          const list = byLeader.get(leader);
          if (list) list.push({ partition, batch });
          else byLeader.set(leader, [{ partition, batch }]);
        }
        const outcomes = await Promise.all([...byLeader].map(([leader, batches]) => produceTo(topic, leader, batches)));
        let progress = false;
        for (const { landed, failure } of outcomes) {
          for (const partition of landed) {
            const queue = unsent.get(partition)!;
            queue.shift();
            if (queue.length === 0) unsent.delete(partition);
            progress = true;
          }
          if (failure) lastError = failure;
        }
        if (unsent.size === 0) return;
        failed = progress ? 0 : failed + 1;
      }
      throw new KafkaProduceError(`${unsent.size} partition(s) of '${topic}' not acknowledged (${retries + 1} attempts in a row landed nothing): ${lastError?.message}`, true);
    },
    async partitionCount(topic) {
      return (await retrying(() => metadataOf(topic), retries)).leaders.length;
    },
    async close() {
      closed = true;
      cluster.close();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
