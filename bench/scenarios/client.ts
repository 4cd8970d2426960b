/**
 * Client: what Fusebox costs the agent itself. `guard()` runs before every action and `emit`
 * after it, so both sit on the agent's critical path; the event-loop delay shows whether
 * batching and sending spans ever stall the agent's own work.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../../client/index.js';
import { createMemoryLog } from '../../log/memory.js';
import { topicNames, topicSpecs } from '../../log/topics.js';
import { controlEventCodec, controlEventSchema } from '../../schemas/index.js';
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

  const spans = sized(ctx, 200_000, 50_000);
  ctx.progress(`run.record(), ${spans.toLocaleString('en-US')} spans on the in-memory log`);
  const emit = await timeRecord(fusebox, run, spans);
  figures.push(latencyFigure('run.record() (validate, encode, buffer)', emit.perSpan, 'ns/span', `batches of ${EMIT_BATCH.toLocaleString('en-US')}, loop yielded between batches`));
  figures.push(figure('emit amortised, incl. batching and send', emit.amortisedNs, 'ns/span', `until all ${spans.toLocaleString('en-US')} were sent; ${emit.dropped} dropped`));

  const toolCalls = sized(ctx, 100_000, 25_000);
  ctx.progress(`run.tool(), ${toolCalls.toLocaleString('en-US')} calls`);
  figures.push(latencyFigure('run.tool() (guard, 2 hashes, span, await)', await timeTool(run, toolCalls), 'ns/op', `batches of ${EMIT_BATCH.toLocaleString('en-US')} sequential awaited calls`));
  await fusebox.close();

  const seconds = sized(ctx, 10, 4);
  ctx.progress(`event-loop delay, idle (${Math.ceil(seconds / 2)} s)`);
  figures.push(latencyFigure('event-loop delay, idle', await loopDelay(Math.ceil(seconds / 2) * 1000, async () => undefined), 'ms', 'baseline of this process'));

  ctx.progress(`event-loop delay while emitting ${EMIT_RATE.toLocaleString('en-US')} spans/s on the in-memory log (${seconds} s)`);
  const memoryLog = createMemoryLog();
  await memoryLog.ensureTopics(topicSpecs(topicNames(prefix), PARTITIONS));
  const inMemory = await emitting(await createFusebox({ tenantId: 'bench', agentId: 'busy', log: memoryLog, topicPrefix: prefix }), seconds);
  figures.push(latencyFigure(`event-loop delay, ${EMIT_RATE.toLocaleString('en-US')} spans/s, in-memory log`, inMemory.delay, 'ms', `${Math.round(inMemory.rate).toLocaleString('en-US')} spans/s achieved, 50 runs, ${inMemory.dropped} dropped`));

  ctx.progress(`event-loop delay while emitting ${EMIT_RATE.toLocaleString('en-US')} spans/s to Kafka (${seconds} s)`);
  const bench = await freshTopics(ctx.brokers, 'client', PARTITIONS);
  try {
    const kafka = await emitting(await createFusebox({ tenantId: 'bench', agentId: 'busy', brokers: ctx.brokers, topicPrefix: bench.prefix }), seconds);
    figures.push(latencyFigure(`event-loop delay, ${EMIT_RATE.toLocaleString('en-US')} spans/s, Kafka`, kafka.delay, 'ms', `${Math.round(kafka.rate).toLocaleString('en-US')} spans/s achieved, ${kafka.dropped} dropped, ${kafka.unsent} unsent at close`));
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

async function timeRecord(fusebox: Fusebox, run: Run, spans: number): Promise<{ perSpan: Distribution; amortisedNs: number; dropped: number }> {
  const record = (i: number) => run.record({ kind: 'llm_call', name: 'gpt-4o', status: 'ok', model: 'gpt-4o', provider: 'openai', inputTokens: 900 + (i % 500), outputTokens: 40, costMicros: 2_500 });
  // Warm-up, in the same batches: one synchronous burst beyond maxBuffered (10,000) would drop.
  for (let b = 0; b < 20; b++) {
    for (let i = 0; i < EMIT_BATCH; i++) record(i);
    await yieldToLoop();
  }
  while (fusebox.stats().buffered > 0) await sleep(5);

  const before = fusebox.stats().sent;
  const droppedBefore = fusebox.stats().dropped;
  const samples: number[] = [];
  const started = process.hrtime.bigint();
  for (let b = 0; b < spans / EMIT_BATCH; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < EMIT_BATCH; i++) record(i);
    samples.push(Number(process.hrtime.bigint() - t) / EMIT_BATCH);
    await yieldToLoop(); // let the emitter batch and send, as an agent's awaits would
  }
  const dropped = () => fusebox.stats().dropped - droppedBefore;
  while (fusebox.stats().sent - before + dropped() < spans) await yieldToLoop();
  const amortisedNs = Number(process.hrtime.bigint() - started) / spans;
  return { perSpan: distribution(samples), amortisedNs, dropped: dropped() };
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

async function emitting(fusebox: Fusebox, seconds: number): Promise<{ delay: Distribution; rate: number; dropped: number; unsent: number }> {
  const agents = simulateAgents(fusebox, { rate: EMIT_RATE, runs: 50 });
  agents.start();
  await sleep(500); // past start-up: runs opened, producer warm
  const from = agents.spans();
  const t = performance.now();
  const delay = await loopDelay(seconds * 1000, async () => undefined);
  const rate = perSecond(agents.spans() - from, performance.now() - t);
  agents.stop();
  const { unsent } = await fusebox.close();
  return { delay, rate, dropped: fusebox.stats().dropped, unsent };
}
