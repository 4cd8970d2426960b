/**
 * The in-memory event log behind the same port as Kafka: `npm start` runs the whole pipeline
 * in one process with nothing to install. Partitions, keys, offsets, group commits and
 * transactions behave as on Kafka; one member per group (no rebalancing) and nothing survives
 * the process.
 */
import { EventEmitter } from 'node:events';
import { partitionForKey } from './partitioner.js';
import type {
  EventLog, FollowFrom, GroupConsumer, GroupConsumerOptions, LogBatch, LogMessage, LogProducer, OffsetToCommit, OutgoingMessage,
  PartitionReader, TopicSpec, Transaction, TransactionalProducer,
} from './port.js';

const MAX_BATCH = 500;

export class FencedProducerError extends Error {
  readonly code = 'PRODUCER_FENCED';
  readonly retriable = false;
  constructor(transactionalId: string) {
    super(`producer '${transactionalId}' was fenced by a newer producer with the same transactional id`);
    this.name = 'FencedProducerError';
  }
}

export function createMemoryLog(): EventLog {
  const topics = new Map<string, LogMessage[][]>();
  const committed = new Map<string, number>(); // `${group}\u0000${topic}\u0000${partition}` -> next offset
  const activeGroups = new Set<string>();
  const epochs = new Map<string, number>(); // transactional id -> newest producer epoch
  const appended = new EventEmitter().setMaxListeners(0);

  const partitionsOf = (topic: string): LogMessage[][] => {
    const partitions = topics.get(topic);
    if (!partitions) throw new Error(`unknown topic '${topic}': create it with ensureTopics first`);
    return partitions;
  };
  const offsetKey = (group: string, topic: string, partition: number) => `${group}\u0000${topic}\u0000${partition}`;

  function append(topic: string, messages: OutgoingMessage[]): void {
    const partitions = partitionsOf(topic);
    for (const message of messages) {
      const partition = message.partition ?? partitionForKey(message.key, partitions.length);
      const log = partitions[partition]!;
      log.push({ topic, partition, offset: String(log.length), key: message.key, value: message.value, timestampMs: Date.now(), headers: message.headers ?? {} });
    }
    if (messages.length > 0) appended.emit('append', topic);
  }

  return {
    kind: 'memory',
    describe: 'in-memory event log',
    async ensureTopics(specs: TopicSpec[]) {
      for (const spec of specs) {
        if (!topics.has(spec.topic)) topics.set(spec.topic, Array.from({ length: spec.partitions }, () => []));
      }
    },
    async partitionCount(topic: string) {
      return partitionsOf(topic).length;
    },
    async producer(): Promise<LogProducer> {
      return {
        async send(topic, messages) {
          append(topic, messages);
        },
        async close() {},
      };
    },
    async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
      const epoch = (epochs.get(transactionalId) ?? 0) + 1;
      epochs.set(transactionalId, epoch);
      const check = () => {
        if (epochs.get(transactionalId) !== epoch) throw new FencedProducerError(transactionalId);
      };
      return {
        async begin(): Promise<Transaction> {
          check();
          const pending: Array<[string, OutgoingMessage[]]> = [];
          let open = true;
          const send = (topic: string, messages: OutgoingMessage[]) => {
            check();
            partitionsOf(topic);
            pending.push([topic, messages]);
          };
          return {
            async send(topic, messages) {
              send(topic, messages);
            },
            async sendBatch(entries) {
              for (const [topic, messages] of entries) send(topic, messages);
            },
            async commit() {
              check();
              if (!open) throw new Error('transaction already ended');
              open = false;
              for (const [topic, messages] of pending) append(topic, messages);
            },
            async abort() {
              open = false;
              pending.length = 0;
            },
          };
        },
        async close() {},
      };
    },
    async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
      const out = new Map<number, bigint>();
      partitionsOf(topic).forEach((_, partition) => {
        const at = committed.get(offsetKey(groupId, topic, partition));
        if (at !== undefined) out.set(partition, BigInt(at));
      });
      return out;
    },
    groupConsumer(options: GroupConsumerOptions): GroupConsumer {
      let running = false;
      let loop: Promise<void> | null = null;
      let wake: (() => void) | null = null;
      const position = new Map<string, number>();
      const onAppend = () => wake?.();

      async function pump(): Promise<void> {
        while (running) {
          let delivered = false;
          for (const topic of options.topics) {
            const partitions = partitionsOf(topic);
            for (let partition = 0; partition < partitions.length && running; partition++) {
              const key = offsetKey(options.groupId, topic, partition);
              const log = partitions[partition]!;
              const from = position.get(key) ?? committed.get(key) ?? (options.fromBeginning ? 0 : log.length);
              position.set(key, from);
              if (from >= log.length) continue;
              const batch: LogBatch = { topic, partition, messages: log.slice(from, from + MAX_BATCH) };
              try {
                await options.handleBatch(batch);
              } catch (error) {
                running = false;
                options.onCrash?.(error as Error);
                break;
              }
              if (position.get(key) === from) position.set(key, from + batch.messages.length); // unless the handler sought elsewhere
              if (options.commit !== 'by-handler') committed.set(key, from + batch.messages.length);
              delivered = true;
            }
          }
          if (!delivered && running) await new Promise<void>((ok) => { wake = ok; });
          wake = null;
        }
      }

      return {
        async start() {
          if (activeGroups.has(options.groupId)) throw new Error(`group '${options.groupId}' already has a member: the in-memory log does not rebalance`);
          const assignment = options.topics.map((topic) => ({ topic, partitions: partitionsOf(topic).map((_, i) => i) }));
          activeGroups.add(options.groupId);
          options.onAssignment?.(assignment);
          running = true;
          appended.on('append', onAppend);
          loop = pump();
        },
        async stop() {
          running = false;
          wake?.();
          appended.off('append', onAppend);
          await loop;
          activeGroups.delete(options.groupId);
        },
        seek: (topic, partition, offset) => { position.set(offsetKey(options.groupId, topic, partition), Number(offset)); },
        commit: async (offsets) => { for (const o of offsets) committed.set(offsetKey(options.groupId, o.topic, o.partition), Number(o.offset)); },
        lag: () => options.topics.flatMap((topic) => partitionsOf(topic).map((log, partition) => {
          const at = position.get(offsetKey(options.groupId, topic, partition)) ?? 0;
          return { topic, partition, lag: Math.max(0, log.length - at) };
        })),
      };
    },
    reader(topic: string, onMessage: (message: LogMessage) => void): PartitionReader {
      const positions = new Map<number, number>();
      const deliver = (appendedTopic: string) => {
        if (appendedTopic !== topic) return;
        const partitions = partitionsOf(topic);
        for (const [partition, from] of positions) {
          const log = partitions[partition]!;
          for (let offset = from; offset < log.length; offset++) onMessage(log[offset]!);
          positions.set(partition, log.length);
        }
      };
      return {
        async start() {
          partitionsOf(topic);
          appended.on('append', deliver);
        },
        async follow(partition: number, from: FollowFrom = 'end') {
          if (positions.has(partition)) return;
          const log = partitionsOf(topic)[partition];
          if (!log) throw new Error(`topic '${topic}' has no partition ${partition}`);
          const since = typeof from === 'object' ? log.findIndex((m) => m.timestampMs >= from.sinceMs) : -1;
          positions.set(partition, from === 'end' ? log.length : from === 'beginning' ? 0 : since < 0 ? log.length : since);
          if (from !== 'end') deliver(topic);
        },
        unfollow(partition: number) {
          positions.delete(partition);
        },
        async stop() {
          appended.off('append', deliver);
        },
      };
    },
    async close() {},
  };
}
