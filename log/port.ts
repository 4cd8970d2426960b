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
  value: Buffer;
  headers?: Record<string, string>;
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
  /** Called when the consumer stops on an error it cannot recover from. */
  onCrash?(error: Error): void;
}

export interface GroupConsumer {
  /** Resolves once the consumer has joined its group and holds an assignment. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads chosen partitions of one topic from their end, outside any shared group: how a client
 * follows the control partitions its trees hash to, without reading the others.
 */
export interface PartitionTail {
  start(): Promise<void>;
  /** Starts delivering `partition` from the current end; resolves once the position is fixed,
   *  so anything produced afterwards is delivered. Following twice is a no-op. */
  follow(partition: number): Promise<void>;
  stop(): Promise<void>;
}

export interface EventLog {
  readonly kind: 'kafka' | 'memory';
  /** Human-readable location, for logs: broker list or "in-memory". */
  readonly describe: string;
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  partitionCount(topic: string): Promise<number>;
  producer(): Promise<LogProducer>;
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
  tail(topic: string, onMessage: (message: LogMessage) => void): PartitionTail;
  close(): Promise<void>;
}
