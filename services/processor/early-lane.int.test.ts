/**
 * The early lane on the real broker, with the real processor and a real client: a trip reaches
 * the agent while its transaction cannot (a read_committed reader stops at the first open
 * transaction of a partition, and here another producer holds one open on the control and
 * breaker-state topics),
 * and the committed copy that follows carries the same event id, so the agent applies it once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFusebox, type Fusebox, type Run } from '../../client/index.js';
import type { EventLog, Transaction, TransactionalProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { controlEventCodec, type ControlEvent } from '../../schemas/index.js';
import { brokers, eventually, freshKafka, readAll } from '../../test/kafka.js';
import { haltOf } from '../../test/client.js';
import { silentLogger } from '../logger.js';
import { createProcessor, type Processor } from './processor.js';

interface Rig {
  log: EventLog;
  topics: Topics;
  processor: Processor;
  fusebox: Fusebox;
  holder: TransactionalProducer;
  held: Transaction;
}

/** A processor and a client on one partition, with the control partition's stable offset held by an open transaction. */
async function rig(earlyTrips: boolean): Promise<Rig> {
  const { log, topics, prefix } = await freshKafka(1);
  const processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor`, earlyTrips });
  await processor.start();
  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'looper', brokers: brokers(), topicPrefix: prefix });
  const holder = await log.transactionalProducer(`${prefix}.holder`);
  const held = await holder.begin();
  const hold: ControlEvent = { eventId: 'held-open', tenantId: 'nobody', scope: 'run', target: 'none', treeId: 'none', action: 'reset', reason: null, policyId: null, policyVersion: null, timeMs: 0 };
  await held.send(topics.control, [{ key: 'none', value: controlEventCodec.encode(hold) }]);
  // Trips also stand on breaker-state, written in the same transaction as control: hold its
  // (one) partition too, or the committed trip would reach the client by that road.
  await held.send(topics.breakerState, [{ key: 'none', value: null }]);
  return { log, topics, processor, fusebox, holder, held };
}

/** Three identical failing calls: the loop detector's default trips the run on the third. */
async function loop(run: Run): Promise<void> {
  for (let i = 0; i < 3; i++) await run.tool('search', { q: 'same' }, () => { throw new Error('503 upstream'); }).catch(() => {});
}

describe('early lane (real Kafka, real processor, real client)', () => {
  let current: Rig | null = null;
  afterEach(async () => {
    if (!current) return;
    const { held, holder, fusebox, processor, log } = current;
    current = null;
    await held.abort().catch(() => {});
    await Promise.allSettled([holder.close(), fusebox.close()]);
    await processor.stop();
    await log.close();
  });

  it('halts the agent while the trip\'s transaction is not yet readable, and the committed copy changes nothing', async () => {
    current = await rig(true);
    const { fusebox, held, log, topics, processor } = current;
    const run = await fusebox.startRun();
    await loop(run);
    const halted = await eventually('the early trip to halt the run', () => haltOf(run), 30_000);
    expect(halted).toMatchObject({ origin: 'control', scope: 'run', reason: { detector: 'loop' } });
    expect(processor.stats().earlySent).toBeGreaterThanOrEqual(1);

    // The committed copy, readable once the held transaction ends: the same event, same id.
    await held.abort();
    const committed = await eventually('the committed trip', async () => {
      const found = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!)).filter((e) => e.target === run.id && e.action === 'trip');
      return found.length > 0 ? found : undefined;
    }, 30_000);
    const early = (await readAll(log, topics.controlEarly)).map((m) => controlEventCodec.decode(m.value!)).filter((e) => e.target === run.id);
    expect(committed.map((e) => e.eventId)).toEqual(early.map((e) => e.eventId));
    expect(early).toHaveLength(1);
    expect(haltOf(run)?.reason).toEqual(halted.reason);
  }, 90_000);

  it('without it, the same trip waits behind the open transaction (what the lane is for)', async () => {
    current = await rig(false);
    const { fusebox, held, processor } = current;
    const run = await fusebox.startRun();
    await loop(run);
    await eventually('the processor to decide the trip', () => processor.stats().trips >= 1, 30_000);
    await new Promise((ok) => setTimeout(ok, 3_000));
    expect(haltOf(run)).toBeUndefined();
    expect(processor.stats().earlySent).toBe(0);
    await held.abort();
    await eventually('the committed trip to halt the run', () => haltOf(run), 30_000);
  }, 90_000);
});
