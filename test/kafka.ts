/** Helpers for integration tests on the real broker. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createKafkaLog } from '../log/kafka.js';
import { Kafka, logLevel } from '../log/kafkajs.js';
import { createCluster } from '../log/wire/cluster.js';
import { API_LIST_OFFSETS, decodeListOffsets, LATEST, listOffsetsRequestBody, READ_COMMITTED, READ_UNCOMMITTED } from '../log/wire/fetch-protocol.js';
import type { EventLog, LogMessage } from '../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../log/topics.js';
import { controlEventCodec } from '../schemas/index.js';
import { standingPartition } from '../services/control-messages.js';

export function brokers(): string[] {
  return inject('kafkaBrokers').split(',');
}

/** A Kafka event log with its own fresh topics, so test files never see each other's data. */
export async function freshKafka(partitions = 3): Promise<{ log: EventLog; topics: Topics; prefix: string }> {
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const log = createKafkaLog({ brokers: brokers(), clientId: prefix });
  const topics = topicNames(prefix);
  await log.ensureTopics(topicSpecs(topics, partitions));
  return { log, topics, prefix };
}

/** Polls until `check` returns a value that is not undefined/false, or fails naming `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

/**
 * Per partition of `topic`, its high watermark (everything appended) and its last stable offset
 * (what read_committed readers may read: it stops at the first transaction still in doubt).
 */
export async function endOffsets(topic: string, on: string[] = brokers()): Promise<Array<{ partition: number; high: bigint; stable: bigint }>> {
  const cluster = createCluster({ brokers: on, clientId: 'test-end-offsets', requestTimeoutMs: 10_000, connectTimeoutMs: 5_000, error: (message) => new Error(message) });
  try {
    const { leaders } = await cluster.metadataOf(topic).catch((error: Error) => {
      throw new Error(`${error.message} on ${on.join(',')} (a topic on a broker of the test's own needs \`on\`)`);
    });
    return await Promise.all(leaders.map(async (leader, partition) => {
      const connection = cluster.connectionTo(leader);
      if (!connection) throw new Error(`partition ${partition} of '${topic}' has no leader`);
      const ask = async (isolation: typeof READ_COMMITTED | typeof READ_UNCOMMITTED) => {
        const [answer] = decodeListOffsets(await connection.request(API_LIST_OFFSETS, 2, [listOffsetsRequestBody(isolation, topic, [partition], LATEST)]));
        if (!answer || answer.errorCode !== 0) throw new Error(`ListOffsets of partition ${partition} of '${topic}' answered error ${answer?.errorCode}`);
        return answer.offset;
      };
      return { partition, high: await ask(READ_UNCOMMITTED), stable: await ask(READ_COMMITTED) };
    }));
  } finally {
    cluster.close();
  }
}

/** Resolves once every transaction appended to `topic` so far has completed (see readAll). */
async function settled(topic: string, on: string[], settleMs: number): Promise<void> {
  const appended = await endOffsets(topic, on);
  await eventually(`every transaction appended to '${topic}' to complete`, async () => {
    const now = await endOffsets(topic, on);
    const inDoubt = appended.filter(({ partition, high }) => now[partition]!.stable < high);
    if (inDoubt.length > 0) throw new Error(`in doubt: ${inDoubt.map(({ partition, high }) => `partition ${partition} stable at ${now[partition]!.stable} of ${high}`).join(', ')}`);
    return true;
  }, settleMs);
}

/**
 * Every message of a topic, all partitions, read committed: everything appended before the call,
 * once no transaction among it is in doubt. A producer's commit returns once the coordinator
 * has recorded it; the markers that make its records readable are written to each partition a
 * moment later (longer on a loaded machine), and a transaction left open by a killed process
 * holds every later commit of its partitions back until it is aborted. Reading at once would
 * miss committed records: that is not a loss, and must not look like one. `on`: the brokers of
 * `log`, when not the suite's.
 */
export async function readAll(log: EventLog, topic: string, { settleMs = 60_000, on }: { settleMs?: number; on?: string[] } = {}): Promise<LogMessage[]> {
  if (log.kind === 'kafka') await settled(topic, on ?? brokers(), settleMs);
  const out: LogMessage[] = [];
  const reader = log.reader(topic, (m) => out.push(m));
  await reader.start();
  const partitions = await log.partitionCount(topic);
  await Promise.all(Array.from({ length: partitions }, (_, p) => reader.follow(p, 'beginning')));
  await reader.stop();
  return out;
}

/**
 * The action of the latest breaker-state record under `key` (`agent:<tenant>:<agent>`,
 * `tenant:<tenant>:<tenant>`), or undefined if none is committed yet; fails if any such record
 * sits outside the partition of its tenant.
 */
export async function standingAction(log: EventLog, topics: Topics, key: string, tenantId: string): Promise<string | undefined> {
  const records = (await readAll(log, topics.breakerState)).filter((m) => m.key === key);
  const partition = standingPartition(tenantId, await log.partitionCount(topics.breakerState));
  if (records.some((m) => m.partition !== partition)) throw new Error(`breaker-state record '${key}' outside partition ${partition} of tenant '${tenantId}'`);
  return records.length > 0 ? controlEventCodec.decode(records.at(-1)!.value!).action : undefined;
}

/** Resolves once `groupId` has committed every offset of `topic` (the whole log is processed). */
export async function drained(topic: string, groupId: string, timeoutMs = 150_000, on: string[] = brokers()): Promise<void> {
  const admin = new Kafka({ brokers: on, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await eventually(`group ${groupId} to commit every offset of ${topic}`, async () => {
      const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const at = new Map(committed[0]!.partitions.map((p) => [p.partition, p.offset]));
      return ends.every((e) => e.high === e.low || at.get(e.partition) === e.high); // an empty partition has nothing to commit
    }, timeoutMs);
  } finally {
    await admin.disconnect();
  }
}

/** The offsets `groupId` has committed on `topic`, summed over partitions: how far it got. */
export async function committedTotal(topic: string, groupId: string): Promise<bigint> {
  const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return committed!.partitions.reduce((sum, p) => sum + (BigInt(p.offset) > 0n ? BigInt(p.offset) : 0n), 0n);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `groupId` commits beyond `since` on `topic`: a kill then interrupts real work. */
export async function progressed(topic: string, groupId: string, since: bigint): Promise<bigint> {
  return eventually(`group ${groupId} to commit progress on ${topic}`, async () => {
    const now = await committedTotal(topic, groupId);
    return now > since ? now : undefined;
  }, 60_000);
}
