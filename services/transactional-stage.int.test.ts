/**
 * The exactly-once shell on the real broker, with a toy stage (a count per key, one output per
 * input): what it folded once it never folds again, even when the group's committed offsets
 * lag behind its state. That lag is real: kafkajs cannot ask the coordinator for stable offsets
 * (KIP-447's require_stable), so a member joining while a transaction completes can be handed
 * the offset from before it. Rewinding the group by hand makes that moment happen every time.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from '../log/kafkajs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog } from '../log/kafka.js';
import type { EventLog } from '../log/port.js';
import { startKafkaBroker, type KafkaBroker } from '../scripts/kafka/broker.js';
import { brokers, drained, eventually, readAll } from '../test/kafka.js';
import { createLogger, silentLogger } from './logger.js';
import { createTransactionalStage, jsonMapState, POSITION_KEY } from './transactional-stage.js';

interface Setup {
  log: EventLog;
  topics: { input: string; output: string; changelog: string };
  groupId: string;
  /** The brokers `log` talks to. */
  on: string[];
}

async function setUp(log: EventLog, prefix: string, on = brokers()): Promise<Setup> {
  const topics = { input: `${prefix}.input`, output: `${prefix}.output`, changelog: `${prefix}.changelog` };
  await log.ensureTopics([
    { topic: topics.input, partitions: 2 },
    { topic: topics.output, partitions: 2 },
    { topic: topics.changelog, partitions: 2, compacted: true },
  ]);
  return { log, topics, groupId: `${prefix}.counter`, on };
}

/** Counts inputs per key and publishes one output per input, named by the input's value. */
function counterStage({ log, topics, groupId }: Setup, minTransactionIntervalMs?: number) {
  const counts = new Map<string, number>();
  const stage = createTransactionalStage({
    minTransactionIntervalMs,
    log,
    logger: process.env.DEBUG_STAGE ? createLogger('stage') : silentLogger,
    groupId,
    inputs: [topics.input],
    changelog: topics.changelog,
    state: jsonMapState(counts),
    handle: (batch) => {
      const touched = new Set<string>();
      for (const m of batch.messages) {
        counts.set(m.key!, (counts.get(m.key!) ?? 0) + 1);
        touched.add(m.key!);
      }
      return { publish: [[topics.output, batch.messages.map((m) => ({ key: m.key!, value: m.value }))]], touched };
    },
  });
  return { stage, counts };
}

async function produce({ log, topics }: Setup, from: number, to: number): Promise<void> {
  const producer = await log.producer();
  const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
  await producer.send(topics.input, Array.from({ length: to - from }, (_, i) => ({ key: keys[(from + i) % keys.length]!, value: Buffer.from(`input-${from + i}`) })));
  await producer.close();
}

/** Every output exactly once, and the changelog's counts and positions agree with `total`. */
async function expectExactlyOnce({ log, topics, on }: Setup, total: number): Promise<void> {
  const outputs = (await readAll(log, topics.output, { on })).map((m) => m.value!.toString());
  expect(outputs.filter((value, i) => outputs.indexOf(value) !== i)).toEqual([]);
  expect(outputs).toHaveLength(total);
  const changelog = await readAll(log, topics.changelog, { on });
  const latest = new Map(changelog.map((m) => [`${m.partition}/${m.key}`, m.value!.toString()]));
  const counted = [...latest].filter(([k]) => !k.endsWith(POSITION_KEY)).reduce((sum, [, v]) => sum + Number(v), 0);
  expect(counted).toBe(total);
  const positions = [...latest].filter(([k]) => k.endsWith(POSITION_KEY)).map(([, v]) => JSON.parse(v) as Record<string, string>);
  expect(positions.reduce((sum, p) => sum + Number(p[topics.input]), 0)).toBe(total);
}

describe('transactional stage (real Kafka)', () => {
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  let setup: Setup;

  beforeAll(async () => {
    setup = await setUp(createKafkaLog({ brokers: brokers(), clientId: prefix }), prefix);
  });

  afterAll(async () => {
    await setup?.log.close();
  });

  it('never folds or publishes an input twice, even when the group is handed offsets older than its state', async () => {
    const { topics, groupId } = setup;
    const first = counterStage(setup);
    await first.stage.start();
    await produce(setup, 0, 40);
    await drained(topics.input, groupId, 60_000);
    await first.stage.stop();

    // The coordinator hands out offsets from before the last transactions.
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic: topics.input, partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });
    await admin.disconnect();

    const second = counterStage(setup);
    await second.stage.start();
    await produce(setup, 40, 60);
    await drained(topics.input, groupId, 60_000);
    const stats = second.stage.stats();
    await second.stage.stop();

    // The restored state counted the first 40 once and the next 20 once.
    expect([...second.counts.values()].reduce((a, b) => a + b, 0)).toBe(60);
    expect(stats.redeliveriesSkipped).toBe(40);
    await expectExactlyOnce(setup, 60);
  }, 120_000);

  it('spaces transactions under load when asked, and still commits every input exactly once', async () => {
    const paced = await setUp(setup.log, `${prefix}-paced`);
    const { stage } = counterStage(paced, 400);
    await stage.start();
    // 20 sends, 100 ms apart, each touching both partitions: back to back that is about 40
    // transactions; spaced 400 ms apart per partition, about 2 s of load allows some 12.
    for (let i = 0; i < 20; i++) {
      await produce(paced, i * 8, i * 8 + 8);
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await drained(paced.topics.input, paced.groupId, 60_000);
    const { transactions } = stage.stats();
    await stage.stop();
    expect(transactions).toBeLessThanOrEqual(16);
    await expectExactlyOnce(paced, 160);
  }, 120_000);

  it("brings the group's offsets up to the restored positions, so lag reads zero on a quiet log", async () => {
    // A member that committed its transactions but lost the partition before its offset commit
    // (a rebalance) leaves the group behind its state; the next owner skips every redelivery
    // and, with nothing new to fold, would never commit: lag stuck above zero for good.
    const quiet = await setUp(setup.log, `${prefix}-quiet`);
    const first = counterStage(quiet);
    await first.stage.start();
    await produce(quiet, 0, 30);
    await drained(quiet.topics.input, quiet.groupId, 60_000);
    await first.stage.stop();
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.setOffsets({ groupId: quiet.groupId, topic: quiet.topics.input, partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });
    await admin.disconnect();

    const second = counterStage(quiet);
    await second.stage.start();
    try {
      await drained(quiet.topics.input, quiet.groupId, 30_000); // nothing new produced
      expect(second.stage.stats().redeliveriesSkipped).toBe(30);
    } finally {
      await second.stage.stop();
    }
    await expectExactlyOnce(quiet, 30);
  }, 120_000);
});

describe('transactional stage across a broker outage (a broker of its own)', () => {
  let broker: KafkaBroker;
  let setup: Setup;

  beforeAll(async () => {
    broker = await startKafkaBroker({ defaultPartitions: 2 });
    setup = await setUp(createKafkaLog({ brokers: [broker.brokers], clientId: 'stage-outage' }), 'outage', [broker.brokers]);
  }, 120_000);

  afterAll(async () => {
    await setup?.log.close();
    await broker?.stop();
  }, 60_000);

  it('commits what it folded before, during and after the outage exactly once (retried or rewound)', async () => {
    const { topics, groupId } = setup;
    const { stage, counts } = counterStage(setup);
    await stage.start();
    await produce(setup, 0, 2_000);
    // The broker goes away while those are being folded and committed...
    await eventually('work under way', () => [...counts.values()].reduce((a, b) => a + b, 0) >= 100, 60_000);
    await broker.halt();
    await new Promise((ok) => setTimeout(ok, 3_000));
    await broker.restart();
    // ...and comes back to more.
    await produce(setup, 2_000, 2_500);
    await eventually('every input folded', () => [...counts.values()].reduce((a, b) => a + b, 0) >= 2_500, 120_000);
    await drained(topics.input, groupId, 120_000, [broker.brokers]);
    const stats = stage.stats();
    await stage.stop();

    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(2_500);
    await expectExactlyOnce(setup, 2_500);
    expect(stats.transactions).toBeGreaterThan(0);
  }, 240_000);
});
