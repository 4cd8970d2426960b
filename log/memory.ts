/**
 * The in-memory event log behind the same port as Kafka: `npm start` runs the whole pipeline
 * in one process with nothing to install. Partitions, keys, offsets and group commits behave
 * as on Kafka; one member per group (no rebalancing) and nothing survives the process.
 */
import { EventEmitter } from 'node:events';
import { partitionForKey } from './partitioner.js';
import type { EventLog, GroupConsumer, GroupConsumerOptions, LogBatch, LogMessage, LogProducer, PartitionTail, TopicSpec } from './port.js';

const MAX_BATCH = 500;

export function createMemoryLog(): EventLog {
  const topics = new Map<string, LogMessage[][]>();
  const committed = new Map<string, number>(); // `${group}\u0000${topic}\u0000${partition}` -> next offset
  const activeGroups = new Set<string>();
  const appended = new EventEmitter().setMaxListeners(0);

  const partitionsOf = (topic: string): LogMessage[][] => {
    const partitions = topics.get(topic);
    if (!partitions) throw new Error(`unknown topic '${topic}': create it with ensureTopics first`);
    return partitions;
  };

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
          const partitions = partitionsOf(topic);
          for (const message of messages) {
            const partition = partitionForKey(message.key, partitions.length);
            const log = partitions[partition]!;
            log.push({ topic, partition, offset: String(log.length), key: message.key, value: message.value, timestampMs: Date.now(), headers: message.headers ?? {} });
          }
          appended.emit('append', topic);
        },
        async close() {},
      };
    },
    groupConsumer(options: GroupConsumerOptions): GroupConsumer {
      let running = false;
      let loop: Promise<void> | null = null;
      let wake: (() => void) | null = null;
      const onAppend = () => wake?.();

      async function pump(): Promise<void> {
        while (running) {
          let delivered = false;
          for (const topic of options.topics) {
            const partitions = partitionsOf(topic);
            for (let partition = 0; partition < partitions.length && running; partition++) {
              const key = `${options.groupId}\u0000${topic}\u0000${partition}`;
              const log = partitions[partition]!;
              const from = committed.get(key) ?? (options.fromBeginning ? 0 : log.length);
              committed.set(key, from);
              if (from >= log.length) continue;
              const batch: LogBatch = { topic, partition, messages: log.slice(from, from + MAX_BATCH) };
              try {
                await options.handleBatch(batch);
              } catch (error) {
                running = false;
                options.onCrash?.(error as Error);
                break;
              }
              committed.set(key, from + batch.messages.length);
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
          for (const topic of options.topics) partitionsOf(topic);
          activeGroups.add(options.groupId);
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
      };
    },
    tail(topic: string, onMessage: (message: LogMessage) => void): PartitionTail {
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
        async follow(partition: number) {
          if (!positions.has(partition)) positions.set(partition, partitionsOf(topic)[partition]!.length);
        },
        async stop() {
          appended.off('append', deliver);
        },
      };
    },
    async close() {},
  };
}
