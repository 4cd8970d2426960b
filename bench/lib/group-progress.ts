/**
 * Consumer progress as Kafka itself records it, read from outside the consumers: each partition's
 * end offset (what producers have written) and each group's committed offset (what the group has
 * finished: the sink commits after its insert, the processor inside its transaction). Their
 * difference is the group's lag, the same number `kafka-consumer-groups.sh --describe` shows.
 *
 * Measuring from outside matters: a consumer's own view of its lag is only as fresh as its latest
 * batch, and says nothing while it is stuck in a rebalance or a slow insert.
 */
import { rawKafka } from './kafka.js';

export interface ProgressSample {
  /** Date.now() when the answers arrived: progress seen by then. */
  atMs: number;
  /** Date.now() when the requests went out: the answers say nothing of what happened before it. */
  startedAtMs: number;
  /** End offset (high watermark) of each partition. */
  end: number[];
  /** Per group, the committed offset of each partition (0 where none is committed yet). */
  committed: Record<string, number[]>;
}

export const total = (offsets: readonly number[]): number => offsets.reduce((n, x) => n + x, 0);

/** Messages behind the end, summed over partitions. */
export function lagOf(sample: ProgressSample, group: string): number {
  const committed = sample.committed[group] ?? [];
  return sample.end.reduce((n, end, p) => n + Math.max(0, end - (committed[p] ?? 0)), 0);
}

export async function groupProgress(brokers: string[], topic: string) {
  const admin = rawKafka(brokers, 'bench-progress').admin();
  await admin.connect();
  return {
    async sample(groups: readonly string[]): Promise<ProgressSample> {
      // One request after the other: concurrent kafkajs admin offset calls can fail (kafkajs #461).
      const startedAtMs = Date.now();
      const ends = await admin.fetchTopicOffsets(topic);
      const end: number[] = [];
      for (const p of ends) end[p.partition] = Number(p.high);
      const committed: Record<string, number[]> = {};
      for (const groupId of groups) {
        const [answer] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const offsets = end.map(() => 0);
        for (const p of answer?.partitions ?? []) offsets[p.partition] = Math.max(0, Number(p.offset));
        committed[groupId] = offsets;
      }
      return { atMs: Date.now(), startedAtMs, end, committed };
    },
    close: () => admin.disconnect(),
  };
}

export type GroupProgress = Awaited<ReturnType<typeof groupProgress>>;
