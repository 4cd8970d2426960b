/**
 * The tenant stage, exactly once across SIGKILL: its real entry point runs as a child process
 * while per-tenant spend summaries stream in (bursts that trip tenants' cost-velocity breakers,
 * quiet stretches that close them again), is killed at random points after it has committed
 * progress, and is restarted. Afterwards every decision equals what an uninterrupted fold of the
 * same log decides, each once in the audit topic and once on every control partition, and each
 * tenant's committed state equals the uninterrupted fold's: no trip lost or doubled, no spend
 * counted twice (the window's points are the spend itself).
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { breakerEventCodec, controlEventCodec, policyEventCodec, policyEventSchema, tenantSpendCodec, type PolicyEvent, type TenantSpend } from '../../schemas/index.js';
import type { CostVelocityParams } from '../../streams/detectors/cost-velocity.js';
import { createPolicyBook } from '../../streams/policies.js';
import { initialTenantState, step, tenantVelocityPolicy, type TenantState } from '../../streams/tenant-velocity.js';
import { brokers, committedTotal, drained, freshKafka, progressed, readAll } from '../../test/kafka.js';
import { feedAcrossKills } from '../../test/kill-feed.js';
import { kill9, killAll, startService, stop } from '../../test/processes.js';
import { POSITION_KEY } from '../transactional-stage.js';

const logs: EventLog[] = [];
afterEach(killAll);
afterAll(async () => { await Promise.all(logs.map((l) => l.close())); });

const TENANTS = 24;
/** Tenants 0..LIMITED-1 set a limit; the others spend without one (the stage keeps nothing of theirs). */
const LIMITED = 16;
const SLOTS = 150; // per tenant, one summary per 100 ms of event time
const SLOT_MS = 100;
const WINDOW_MS = 1_000;

function policies(): PolicyEvent[] {
  return Array.from({ length: LIMITED }, (_, t) => policyEventSchema.parse({
    policyId: `rate-${t}`, version: 1, tenantId: `tenant-${t}`, selector: {}, detector: 'tenant_cost_velocity',
    params: { windowMs: String(WINDOW_MS), maxMicros: String(40_000 + (t % 4) * 10_000) }, disposition: 'block', changedBy: 'finance', changedAtMs: 1,
  }));
}

/**
 * Each tenant cycles through 2 s of modest spend (under its limit), 2 s of a burst (over it:
 * a trip) and 2 s without spend (the trailing window empties: a reset), with seeded jitter, so
 * each limited tenant trips and resets two or three times. Ordered by event time across tenants,
 * as the processor's batches would interleave them.
 */
function summaries(seed: number): TenantSpend[] {
  let random = seed;
  const next = () => ((random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: TenantSpend[] = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    for (let t = 0; t < TENANTS; t++) {
      const start = 1_700_000_000_000 + slot * SLOT_MS + t * 7;
      const phase = Math.floor((slot + t) / 20) % 3;
      const perPoint = phase === 0 ? 500 + Math.floor(next() * 1_000) : phase === 1 ? 4_000 + Math.floor(next() * 4_000) : 0;
      const points = perPoint === 0 ? 0 : 1 + Math.floor(next() * 3);
      const spend = Array.from({ length: points }, (_, i) => ({ timeMs: start + i * 30 + Math.floor(next() * 20), micros: perPoint }));
      const run = `tenant-${t}-run-${slot % 5}`;
      out.push({ signalId: `spans:${t % 3}:${slot}:tenant-${t}`, tenantId: `tenant-${t}`, spend, latestMs: start + SLOT_MS - 1, runId: run, treeId: run });
    }
  }
  return out;
}

/** What an uninterrupted tenant stage decides and keeps: the pure decider folding each tenant's summaries in order. */
function reference(all: TenantSpend[], policyEvents: PolicyEvent[]) {
  const book = createPolicyBook();
  for (const p of policyEvents) book.apply(p.policyId, p);
  const states = new Map<string, TenantState>();
  const decisions: string[] = [];
  for (const summary of all) {
    const policy = book.resolve(tenantVelocityPolicy, { tenantId: summary.tenantId, agentId: '', runId: summary.runId, tags: [] });
    if (!policy) continue;
    const out = step(states.get(summary.tenantId) ?? initialTenantState(summary.tenantId), summary, policy.params as CostVelocityParams);
    states.set(summary.tenantId, out.state);
    for (const d of out.decisions) decisions.push(`${d.eventId} ${summary.tenantId} ${d.action} observed ${d.observed} at ${d.timeMs}`);
  }
  return { decisions, states };
}

describe('tenant stage: exactly once across SIGKILL', () => {
  it('kills the tenant stage at random points under load: decisions and tenant state equal an uninterrupted run', async () => {
    const partitions = 3;
    const kills = 3;
    const { log, topics, prefix } = await freshKafka(partitions);
    logs.push(log);
    const producer = await log.producer();
    const policyEvents = policies();
    await producer.send(topics.policies, policyEvents.map((p) => ({ key: p.policyId, value: policyEventCodec.encode(p) })));

    const seed = Date.now();
    const all = summaries(seed % 100_000);
    const expected = reference(all, policyEvents);
    expect(expected.decisions.filter((d) => d.includes(' trip ')).length).toBeGreaterThanOrEqual(2 * LIMITED); // the load does trip
    expect(expected.decisions.filter((d) => d.includes(' reset ')).length).toBeGreaterThanOrEqual(2 * LIMITED); // and the breakers close again

    const group = `${prefix}.tenant-stage`;
    const env = { KAFKA_BROKERS: brokers().join(','), FUSEBOX_TOPIC_PREFIX: prefix, FUSEBOX_PARTITIONS: String(partitions) };
    let stage: ChildProcess = startService('services/tenant-stage/main.ts', env);

    // The feed streams about 20 chunks (some 1,000 summaries) a second; a starting incarnation
    // has at most 5 chunks waiting for it (test/kill-feed.ts).
    const feed = feedAcrossKills(all, { chunk: 48, backlog: 5 * 48, kills, pauseMs: 50, send: (slice) => producer.send(topics.tenantSpend, slice.map((s) => ({ key: s.tenantId, value: tenantSpendCodec.encode(s) }))) });

    let random = seed;
    const next = () => ((random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    /** Per kill: after how long past the progress, and how many sent summaries were not yet committed. */
    const killedAt: string[] = [];
    let done = 0n;
    for (let k = 0; k < kills; k++) {
      // Kill only once this incarnation has committed work, then at a random moment after.
      done = await progressed(topics.tenantSpend, group, done);
      feed.incarnationUp();
      const delay = Math.floor(next() * 600);
      await sleep(delay);
      // Killed right after a chunk lands, so the stage has spend it has not committed (a stage
      // that keeps up is otherwise often killed idle, between chunks).
      for (const landed = feed.sent(); feed.sent() === landed && landed < all.length;) await sleep(1);
      const sentBefore = feed.sent();
      await kill9(stage);
      const behind = sentBefore - Number(await committedTotal(topics.tenantSpend, group));
      feed.incarnationKilled();
      killedAt.push(`${delay} ms after progress, ${behind} behind`);
      stage = startService('services/tenant-stage/main.ts', env);
    }
    await feed.done;
    try {
      await drained(topics.tenantSpend, group);
    } catch (error) {
      throw new Error(`${(error as Error).message} (seed ${seed}; kills ${killedAt.join('; ')})\n${(stage as ChildProcess & { stderrTail(): string }).stderrTail().slice(-4000)}`);
    }
    await stop(stage); // no transaction left open for the reads below to wait out
    await producer.close();

    const audits = (await readAll(log, topics.audit)).map((m) => breakerEventCodec.decode(m.value!));
    const controls = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!));
    const states = new Map<string, TenantState>();
    for (const m of await readAll(log, topics.tenantState)) if (m.key !== POSITION_KEY) states.set(m.key!, JSON.parse(m.value!.toString()) as TenantState);

    const context = `seed ${seed}; kills ${killedAt.join('; ')}`;
    // Every decision of the uninterrupted run, each once (a doubled or lost one shows in the diff).
    const decided = audits.map((a) => `${a.eventId} ${a.target} ${a.action} observed ${a.observed} at ${a.timeMs}`);
    expect(decided.sort(), context).toEqual([...expected.decisions].sort());
    // Each on every control partition once, saying the same as its audit record.
    const audited = new Map(audits.map((a) => [a.eventId, a]));
    const copies = new Map<string, number>();
    for (const c of controls) {
      copies.set(c.eventId, (copies.get(c.eventId) ?? 0) + 1);
      expect(c, c.eventId).toMatchObject({ scope: 'tenant', target: audited.get(c.eventId)?.target, action: audited.get(c.eventId)?.action, timeMs: audited.get(c.eventId)?.timeMs });
    }
    expect([...copies.keys()].sort(), context).toEqual([...audited.keys()].sort());
    for (const [eventId, n] of copies) expect(n, eventId).toBe(partitions);
    // The committed state of every limited tenant is the uninterrupted fold's: the same spend
    // points (none counted twice or lost), breaker, transitions and replay memory.
    expect([...states.keys()].sort()).toEqual([...expected.states.keys()].sort());
    for (const [tenantId, state] of expected.states) expect(states.get(tenantId), `${tenantId} (${context})`).toEqual(state);
    // The kills hit a stage with spend arriving and some of it not yet committed.
    expect(killedAt.filter((k) => !k.endsWith(' 0 behind')).length, context).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
