/**
 * Client: what Fusebox costs the agent itself. `guard()` runs before every action and `emit`
 * after it, so both sit on the agent's critical path; the event-loop delay shows whether
 * batching and sending spans ever stall the agent's own work.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance as nodePerformance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../../client/index.js';
import { createMemoryLog } from '../../log/memory.js';
import { topicNames, topicSpecs } from '../../log/topics.js';
import type { EventLog } from '../../log/port.js';
import { controlEventCodec, controlEventSchema, policyEventCodec, policyEventSchema } from '../../schemas/index.js';
import { checkLocally, emptyRunPolicies, type NextAction } from '../../client/local-checks.js';
import { simulateAgents } from '../lib/agents.js';
import { deleteTopics, freshTopics } from '../lib/kafka.js';
import { figure, latencyFigure, type Figure } from '../lib/results.js';
import { distribution, perSecond, type Distribution } from '../lib/stats.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;
const GUARD_BATCH = 10_000;
const EMIT_BATCH = 1_000;
const EMIT_RATE = 10_000;
/** monitorEventLoopDelay's sampling interval: every sample includes it, so it is subtracted. */
const ELD_RESOLUTION_MS = 1;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const prefix = 'bench-client';
  const log = createMemoryLog();
  await log.ensureTopics(topicSpecs(topicNames(prefix), PARTITIONS));
  // The measured runs take far more steps than the built-in cap of 500 allows.
  await publishPolicies(log, prefix, [uncapped()]);
  const fusebox = await createFusebox({ tenantId: 'bench', agentId: 'agent', log, topicPrefix: prefix });

  ctx.progress('guard(), no breaker open');
  const run = await fusebox.startRun();
  const guardBatches = sized(ctx, 300, 100);
  figures.push(latencyFigure('guard(), nothing open', nsPerOp(guardBatches, GUARD_BATCH, () => run.guard()), 'ns/op', `${guardBatches} batches of ${GUARD_BATCH.toLocaleString('en-US')} calls`));

  ctx.progress('guard(), 1,000 breakers open on other runs of the same tree');
  const other = await fusebox.startRun();
  await openBreakers(log, prefix, run, other, 1_000);
  if (!halted(other)) throw new Error('the trips published on the control topic did not reach the client');
  if (halted(run)) throw new Error('a trip for other runs halted the measured run');
  figures.push(latencyFigure('guard(), 1,000 open on other runs', nsPerOp(guardBatches, GUARD_BATCH, () => run.guard()), 'ns/op', 'the board holds the trips; this run is not covered'));

  ctx.progress('guard(next tool), 100 cached policies');
  figures.push(...await guardWithPolicies(ctx));

  const spans = sized(ctx, 200_000, 50_000);
  ctx.progress(`run.record(), ${spans.toLocaleString('en-US')} spans on the in-memory log`);
  const emit = await timeEmit(fusebox, spans, (i) => run.record({ kind: 'llm_call', name: 'gpt-4o', status: 'ok', model: 'gpt-4o', provider: 'openai', inputTokens: 900 + (i % 500), outputTokens: 40, costMicros: 2_500 }));
  figures.push(latencyFigure('run.record() (whole-span zod parse, encode, buffer)', emit.perSpan, 'ns/span', `custom spans; batches of ${EMIT_BATCH.toLocaleString('en-US')}, loop yielded between batches`));
  figures.push(figure('run.record() amortised, incl. batching and send', emit.amortisedNs, 'ns/span', `until all ${spans.toLocaleString('en-US')} were sent; ${emit.dropped} dropped`));

  ctx.progress(`emit of client-built spans (run.signal), ${spans.toLocaleString('en-US')} spans`);
  const signalling = await fusebox.startRun();
  const built = await timeEmit(fusebox, spans, () => signalling.signal('notify', { runId: 'run-elsewhere' }));
  figures.push(latencyFigure('emit, client-built span (guard, build, field checks, encode, buffer)', built.perSpan, 'ns/span', `run.signal(): the wrappers' path, only agent-supplied fields checked; batches of ${EMIT_BATCH.toLocaleString('en-US')}`));
  figures.push(figure('emit amortised, client-built span, incl. batching and send', built.amortisedNs, 'ns/span', `until all ${spans.toLocaleString('en-US')} were sent; ${built.dropped} dropped`));

  const toolCalls = sized(ctx, 100_000, 25_000);
  ctx.progress(`run.tool(), ${toolCalls.toLocaleString('en-US')} calls`);
  figures.push(latencyFigure('run.tool() (guard, 2 hashes, span, await)', await timeTool(run, toolCalls), 'ns/op', `batches of ${EMIT_BATCH.toLocaleString('en-US')} sequential awaited calls`));
  await fusebox.close();

  const seconds = sized(ctx, 10, 3);
  ctx.progress(`event-loop delay, idle (${Math.ceil(seconds / 2)} s)`);
  figures.push(latencyFigure('event-loop delay, idle', await loopDelay(Math.ceil(seconds / 2) * 1000, async () => undefined), 'ms', 'baseline of this process'));

  ctx.progress(`event-loop delay while emitting ${EMIT_RATE.toLocaleString('en-US')} spans/s on the in-memory log (${seconds} s)`);
  const memoryLog = createMemoryLog();
  await memoryLog.ensureTopics(topicSpecs(topicNames(prefix), PARTITIONS));
  const inMemory = await emitting(await createFusebox({ tenantId: 'bench', agentId: 'busy', log: memoryLog, topicPrefix: prefix }), seconds);
  figures.push(latencyFigure(`event-loop delay, ${EMIT_RATE.toLocaleString('en-US')} spans/s, in-memory log`, inMemory.delay, 'ms', `${Math.round(inMemory.rate).toLocaleString('en-US')} spans/s achieved, 50 runs, ${inMemory.dropped} dropped`));
  figures.push(figure(`agent thread busy, ${EMIT_RATE.toLocaleString('en-US')} spans/s, in-memory log`, inMemory.busyPercent, '%', 'event-loop utilisation of the agent\'s thread over the same window: the simulated agents\' own work, the client and the in-memory log'));

  ctx.progress(`event-loop delay while emitting ${EMIT_RATE.toLocaleString('en-US')} spans/s to Kafka (${seconds} s)`);
  const bench = await freshTopics(ctx.brokers, 'client', PARTITIONS);
  try {
    const kafka = await emitting(await createFusebox({ tenantId: 'bench', agentId: 'busy', brokers: ctx.brokers, topicPrefix: bench.prefix }), seconds);
    figures.push(latencyFigure(`event-loop delay, ${EMIT_RATE.toLocaleString('en-US')} spans/s, Kafka`, kafka.delay, 'ms', `${Math.round(kafka.rate).toLocaleString('en-US')} spans/s achieved, ${kafka.dropped} dropped, ${kafka.unsent} unsent at close`));
    figures.push(figure(`agent thread busy, ${EMIT_RATE.toLocaleString('en-US')} spans/s, Kafka`, kafka.busyPercent, '%', 'event-loop utilisation of the agent\'s thread; the client\'s Kafka thread (producer, control and policy readers) is not in it'));
    if (kafka.dropped + kafka.unsent > 0) notes.push(`the Kafka client dropped ${kafka.dropped} and left ${kafka.unsent} spans unsent at 10,000 spans/s.`);
  } finally {
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
  }
  notes.push(`Event-loop delay is what \`monitorEventLoopDelay\` reports minus its ${ELD_RESOLUTION_MS} ms sampling interval: how late a timer fires, i.e. how long the agent's own callbacks wait.`);
  return { figures, notes };
}

function halted(run: Run): boolean {
  try {
    run.guard();
    return false;
  } catch (error) {
    if (error instanceof RunHalted) return true;
    throw error;
  }
}

/** ns per call over `batches` batches, after a warm-up so the JIT has settled. */
function nsPerOp(batches: number, perBatch: number, op: () => void): Distribution {
  for (let i = 0; i < perBatch * 50; i++) op();
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) op();
    samples.push(Number(process.hrtime.bigint() - started) / perBatch);
  }
  return distribution(samples);
}

/**
 * Trips for `count` other runs of the measured run's tree, plus one for `victim`, published on
 * the control topic as the processor would (keyed by tree, so on partitions the client follows):
 * they reach the board through the client's own reader.
 */
async function openBreakers(log: ReturnType<typeof createMemoryLog>, prefix: string, run: Run, victim: Run, count: number): Promise<void> {
  const producer = await log.producer();
  const trip = (target: string, treeId: string) => ({
    key: treeId,
    value: controlEventCodec.encode(controlEventSchema.parse({
      eventId: randomUUID(), tenantId: 'bench', scope: 'run', target, treeId, action: 'trip',
      reason: { detector: 'loop', threshold: 3, observed: 3, windowMs: null, message: 'bench' },
      policyId: 'builtin:loop', policyVersion: 1, timeMs: Date.now(),
    })),
  });
  const messages = Array.from({ length: count }, () => trip(`run-${randomUUID()}`, run.treeId));
  messages.push(trip(victim.id, victim.treeId));
  await producer.send(topicNames(prefix).control, messages);
  await producer.close();
  // The memory log delivers on append, but give a moment to any asynchronous reader.
  for (let i = 0; i < 100 && !halted(victim); i++) await sleep(10);
}

async function timeEmit(fusebox: Fusebox, spans: number, emitOne: (i: number) => void): Promise<{ perSpan: Distribution; amortisedNs: number; dropped: number }> {
  // Warm-up, in the same batches: one synchronous burst beyond maxBuffered (10,000) would drop.
  for (let b = 0; b < 20; b++) {
    for (let i = 0; i < EMIT_BATCH; i++) emitOne(i);
    await yieldToLoop();
  }
  while (fusebox.stats().buffered > 0) await sleep(5);

  const before = fusebox.stats().sent;
  const droppedBefore = fusebox.stats().dropped;
  const samples: number[] = [];
  const started = process.hrtime.bigint();
  for (let b = 0; b < spans / EMIT_BATCH; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < EMIT_BATCH; i++) emitOne(i);
    samples.push(Number(process.hrtime.bigint() - t) / EMIT_BATCH);
    await yieldToLoop(); // let the emitter batch and send, as an agent's awaits would
  }
  const dropped = () => fusebox.stats().dropped - droppedBefore;
  while (fusebox.stats().sent - before + dropped() < spans) await yieldToLoop();
  const amortisedNs = Number(process.hrtime.bigint() - started) / spans;
  return { perSpan: distribution(samples), amortisedNs, dropped: dropped() };
}

const NEXT_TOOL: NextAction = { kind: 'tool_call', name: 'web_search' };

/**
 * guard() for a run governed by 100 policies of its tenant (scope and caps at every level, most
 * for other agents and fleets): each call timed on its own, as the p99 target is per call.
 */
async function guardWithPolicies(ctx: BenchContext): Promise<Figure[]> {
  const prefix = 'bench-client-policies';
  const log = createMemoryLog();
  await log.ensureTopics(topicSpecs(topicNames(prefix), PARTITIONS));
  await publishPolicies(log, prefix, hundredPolicies());
  const fusebox = await createFusebox({ tenantId: 'bench', agentId: 'agent-7', log, topicPrefix: prefix, tags: ['prod', 'eu'] });
  const run = await fusebox.startRun();
  if (!allowed(run, NEXT_TOOL) || allowed(run, { kind: 'tool_call', name: 'shell' })) throw new Error('the 100 policies did not govern the measured run as intended');
  const calls = sized(ctx, 1_000_000, 200_000);
  const cached = nsPerCall(calls, () => run.guard(NEXT_TOOL));
  const subject = { tenantId: 'bench', agentId: 'agent-7', runId: run.id, tags: ['prod', 'eu'] };
  const policies = (fusebox as unknown as { policies: Parameters<typeof checkLocally>[0] }).policies;
  const uncachedResolve = nsPerCall(sized(ctx, 200_000, 50_000), () => checkLocally(policies, subject, emptyRunPolicies(), 10, NEXT_TOOL));
  await fusebox.close();
  return [
    latencyFigure('guard(next tool), 100 cached policies', cached, 'ns/op', `${calls.toLocaleString('en-US')} calls each timed alone (includes ~30 ns of hrtime); breakers, staleness, scope and iteration cap`),
    latencyFigure('local pre-check, policies re-resolved', uncachedResolve, 'ns/op', 'what the first guard() of a run, or the first after a policy change, costs: both detectors resolved among 100 policies'),
  ];
}

function allowed(run: Run, next: NextAction): boolean {
  try {
    run.guard(next);
    return true;
  } catch (error) {
    if (error instanceof RunHalted) return false;
    throw error;
  }
}

/** ns per call, each call timed on its own, after a warm-up. */
function nsPerCall(calls: number, op: () => void): Distribution {
  for (let i = 0; i < 100_000; i++) op();
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = process.hrtime.bigint();
    op();
    samples[i] = Number(process.hrtime.bigint() - t);
  }
  return distribution(Array.from(samples));
}

const policy = (policyId: string, detector: string, params: Record<string, string>, selector: { agentId?: string; tags?: string[] } = {}) =>
  policyEventSchema.parse({ policyId, version: 1, tenantId: 'bench', selector, detector, params, disposition: 'block', enabled: true, changedBy: 'bench', changedAtMs: 1 });

const uncapped = () => policy('bench-uncapped', 'iteration_cap', { maxSteps: '10000000' });

/** 100 policies of one tenant: the measured agent's own scope and cap among 98 others at every level. */
function hundredPolicies() {
  const out = [uncapped(), policy('agent-7-scope', 'scope', { allowedTools: 'web_search, github.*, sql_query' }, { agentId: 'agent-7' })];
  for (let i = 0; i < 40; i++) out.push(policy(`scope-agent-${i}`, 'scope', { allowedTools: `tool_${i}, web_search` }, { agentId: `other-${i}` }));
  for (let i = 0; i < 30; i++) out.push(policy(`cap-fleet-${i}`, 'iteration_cap', { maxSteps: String(1_000 + i) }, { tags: [`fleet-${i}`, 'prod'] }));
  for (let i = 0; i < 28; i++) out.push(policy(`loop-${i}`, i % 2 ? 'loop' : 'failure_streak', { threshold: String(3 + (i % 5)) }, { agentId: `other-${i}` }));
  return out;
}

async function publishPolicies(log: EventLog, prefix: string, policies: ReturnType<typeof policy>[]): Promise<void> {
  const producer = await log.producer();
  await producer.send(topicNames(prefix).policies, policies.map((p) => ({ key: p.policyId, value: policyEventCodec.encode(p) })));
  await producer.close();
}

async function timeTool(run: Run, calls: number): Promise<Distribution> {
  const call = (i: number) => run.tool('web_search', { q: `query ${i}`, page: 1 }, () => ({ hits: i }));
  for (let i = 0; i < 10_000; i++) await call(i); // warm-up
  const samples: number[] = [];
  for (let b = 0; b < calls / EMIT_BATCH; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < EMIT_BATCH; i++) await call(b * EMIT_BATCH + i);
    samples.push(Number(process.hrtime.bigint() - t) / EMIT_BATCH);
  }
  return distribution(samples);
}

/** Event-loop delay in ms while `work` runs, with the sampling interval taken out. */
async function loopDelay(durationMs: number, work: () => Promise<unknown>): Promise<Distribution> {
  const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  histogram.enable();
  await Promise.all([work(), sleep(durationMs)]);
  histogram.disable();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  return { n: histogram.count, min: ms(histogram.min), mean: ms(histogram.mean), p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
}

async function emitting(fusebox: Fusebox, seconds: number): Promise<{ delay: Distribution; rate: number; dropped: number; unsent: number; busyPercent: number }> {
  const agents = simulateAgents(fusebox, { rate: EMIT_RATE, runs: 50 });
  agents.start();
  await sleep(500); // past start-up: runs opened, producer warm
  const from = agents.spans();
  const t = performance.now();
  const utilisation = nodePerformance.eventLoopUtilization();
  const delay = await loopDelay(seconds * 1000, async () => undefined);
  // Less disturbed by a busy machine than the delay's tail: the share of time this thread worked.
  const busyPercent = Math.round(nodePerformance.eventLoopUtilization(utilisation).utilization * 1000) / 10;
  const rate = perSecond(agents.spans() - from, performance.now() - t);
  agents.stop();
  const { unsent } = await fusebox.close();
  return { delay, rate, dropped: fusebox.stats().dropped, unsent, busyPercent };
}
