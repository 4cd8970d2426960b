/**
 * The event log port: the little of Kafka that Fusebox uses, so the same processors, sink and
 * client run on a real broker (kafka.ts) or on the in-memory log of `npm start` (memory.ts).
 *
 * Delivery is at-least-once: a group consumer commits a batch's offsets only after its handler
 * resolved, so a crash replays the uncommitted tail. Consumers make replays harmless with
 * idempotency keys (event ids, deterministic trip ids, ClickHouse dedup tokens).
 */
export interface OutgoingMessage {
  /** Partition key; every Fusebox topic is keyed so related events stay in order. */
  key: string;
  /** null is a tombstone: on a compacted topic it deletes the key. */
  value: Buffer | null;
  headers?: Record<string, string>;
  /** Where it goes when not where its key hashes to (a stage's offset record in its changelog). */
  partition?: number;
}

export interface LogMessage {
  topic: string;
  partition: number;
  /** Decimal string, as Kafka offsets exceed 2^53 in principle. */
  offset: string;
  key: string | null;
  value: Buffer | null;
  timestampMs: number;
  headers: Record<string, string>;
}

export interface LogBatch {
  topic: string;
  partition: number;
  messages: LogMessage[];
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Compacted topics keep the newest value per key (policies, state changelogs). */
  compacted?: boolean;
  retentionMs?: number;
}

export interface LogProducer {
  /** Resolves once the log has the messages (acks=all on Kafka). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface GroupConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offsets starts. */
  fromBeginning: boolean;
  /** Offsets up to the batch's last message are committed once this resolves. A throw stops the
   *  consumer (no commit), so the batch is re-read by whoever consumes next. */
  handleBatch(batch: LogBatch): Promise<void>;
  /** Called when the consumer stops on an error. The in-memory log stays stopped; the Kafka log
   *  restarts the consumer after a backoff (kafkajs retries most errors itself first), and it
   *  re-reads from the committed offsets. */
  onCrash?(error: Error): void;
  /**
   * 'after-handler' (default): the consumer commits a batch's offsets once the handler resolved.
   * 'by-handler': the handler commits them itself (`commit()`, for instance once a transaction
   * with what it produced committed); the consumer only advances its position.
   */
  commit?: 'after-handler' | 'by-handler';
  /** Batches of different partitions handled at once (default 1). Per partition, always in order. */
  concurrency?: number;
  /** Partition N of every topic goes to the same member (topics keyed alike, same partition count). */
  coPartitioned?: boolean;
  /** Called after every (re)join with this member's partitions: state for others is stale. */
  onAssignment?(assignment: TopicPartitions[]): void;
  /**
   * How a fetch waits for data on Kafka (the in-memory log hands over what is there): it returns
   * once `minBytes` are there or after `maxWaitTimeInMs`. Default 1 byte and the log's
   * `maxWaitTimeInMs` (25 ms), for the processor's trip latency; a consumer that is not on the
   * trip path (the sink) asks for more per fetch, so the broker and it handle fewer, larger batches.
   */
  fetch?: { minBytes?: number; maxWaitTimeInMs?: number };
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  /** The next offset to read, i.e. last processed + 1. */
  offset: string;
}

/**
 * The commit request itself failed: the broker may have committed the transaction or not.
 * Sending the same outputs again could publish them twice, so the caller must not retry the
 * batch itself; it re-reads the committed state and offsets instead.
 */
export class CommitOutcomeUnknown extends Error {
  readonly code = 'COMMIT_OUTCOME_UNKNOWN';
  readonly retriable = false;
  constructor(options?: { cause?: unknown }) {
    super(`the transaction's commit request failed; whether it committed is unknown: ${(options?.cause as Error | undefined)?.message ?? 'no detail'}`, options);
    this.name = 'CommitOutcomeUnknown';
  }
}

/**
 * A transaction: everything sent in it becomes visible to read-committed readers together or
 * not at all. (No consumer offsets ride along: a stage records its input positions in its own
 * changelog, inside the transaction; services/transactional-stage.ts says why.)
 */
export interface Transaction {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Several topics in one request: fewer round trips than one `send` per topic. */
  sendBatch(entries: Array<[topic: string, messages: OutgoingMessage[]]>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * A producer with a transactional id. Creating one with an id fences any older producer with
 * that id (a zombie that outlived its partition), aborting its open transaction.
 */
export interface TransactionalProducer {
  begin(): Promise<Transaction>;
  close(): Promise<void>;
}

export interface GroupConsumer {
  /** Resolves once the consumer has joined its group and holds an assignment. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Messages behind the end of each partition handled so far, as of its latest batch. */
  lag(): PartitionLag[];
  /** Commits offsets for the group outside any transaction ('by-handler' consumers). */
  commit(offsets: OffsetToCommit[]): Promise<void>;
  /** The partition's next batch starts at `offset` (the earliest kept, if older): to re-read
   *  what was handled but never committed. Batches fetched before are not delivered. */
  seek(topic: string, partition: number, offset: bigint): void;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/**
 * Reads chosen partitions of one topic outside any shared group (read-committed): how a client
 * follows the control partitions its trees hash to without reading the others, how a
 * processor restores its state changelog, and how it reads every policy.
 */
/** Where a reader starts a partition: its end, its beginning, or the first record since a time (ms). */
export type FollowFrom = 'end' | 'beginning' | { sinceMs: number };

export interface PartitionReader {
  start(): Promise<void>;
  /**
   * Starts delivering `partition`. From 'end': resolves once the position is fixed, so
   * anything produced afterwards is delivered. From 'beginning', or `{ sinceMs }` (the first
   * record stamped at or after that time; the end if none is): resolves once everything that
   * was in the partition when called, from there on, has been delivered. Following a followed
   * partition is a no-op.
   */
  follow(partition: number, from?: FollowFrom): Promise<void>;
  /** Stops delivering `partition`. */
  unfollow(partition: number): void;
  stop(): Promise<void>;
}

export interface ReaderOptions {
  /** Called whenever the reader hears from the log (a group heartbeat or join): how a client knows
   *  its control plane is reachable even when no control event arrives. */
  onContact?(): void;
}

export interface EventLog {
  readonly kind: 'kafka' | 'memory';
  /** Human-readable location, for logs: broker list or "in-memory". */
  readonly describe: string;
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  partitionCount(topic: string): Promise<number>;
  producer(): Promise<LogProducer>;
  transactionalProducer(transactionalId: string): Promise<TransactionalProducer>;
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
  /** The offsets `groupId` has committed on `topic`, by partition (partitions without one are absent). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  reader(topic: string, onMessage: (message: LogMessage) => void, options?: ReaderOptions): PartitionReader;
  close(): Promise<void>;
}
