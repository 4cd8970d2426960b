/**
 * Trip latency: how long a looping agent keeps its hands free after its offending call. The
 * whole path is real: client emitter -> Kafka -> processor (own process) -> control topic ->
 * the client's control reader -> breaker board -> `run.guard()`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createFusebox, RunHalted, type Fusebox } from '../../client/index.js';
import { startWorker, type WorkerHandle } from '../lib/child.js';
import { deleteTopics, freshTopics } from '../lib/kafka.js';
import { figure, latencyFigure, type Figure } from '../lib/results.js';
import { distribution } from '../lib/stats.js';
import { describeKafkajsErrors, type DrainInput, type DrainResult } from '../workers/drain.js';
import type { LoadInput, LoadResult } from '../workers/load.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;
const BACKGROUND_RATE = 10_000;
/** A trip slower than this is counted as missed rather than waited for. */
const GIVE_UP_MS = 5_000;
/** Between the looping calls: the model "thinking", so the 3rd span travels on its own as in life. */
const THINK_MS = 20;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const samples = sized(ctx, 200, 40);
  const budgetMs = sized(ctx, 90_000, 25_000);
  const bench = await freshTopics(ctx.brokers, 'trip', PARTITIONS);
  let processor: WorkerHandle<DrainResult> | null = null;
  let load: WorkerHandle<LoadResult> | null = null;
  let fusebox: Fusebox | null = null;
  try {
    ctx.progress('starting a processor in its own process');
    processor = startWorker<DrainResult>('workers/drain.ts', { mode: 'processor', brokers: ctx.brokers, prefix: bench.prefix, expected: 0 } satisfies DrainInput, { label: 'processor', progress: ctx.progress, timeoutMs: 280_000 });
    await processor.ready;
    fusebox = await createFusebox({ tenantId: 'looper-tenant', agentId: 'looper', brokers: ctx.brokers, topicPrefix: bench.prefix });

    ctx.progress('warming up (5 trips, not counted)');
    await measure(fusebox, 5);

    ctx.progress(`idle: ${samples} trips (at most ${budgetMs / 1000} s), one looping agent at a time`);
    const idle = await measure(fusebox, samples, budgetMs);
    ctx.progress(`  p50 ${idle.dist.p50.toFixed(1)} ms, p99 ${idle.dist.p99.toFixed(1)} ms, max ${idle.dist.max.toFixed(1)} ms`);

    ctx.progress(`starting background agents at ${BACKGROUND_RATE.toLocaleString('en-US')} spans/s in their own process`);
    load = startWorker<LoadResult>('workers/load.ts', { brokers: ctx.brokers, prefix: bench.prefix, rate: BACKGROUND_RATE, clients: 4, runsPerClient: 25 } satisfies LoadInput, { label: 'background agents', progress: ctx.progress, timeoutMs: 280_000 });
    await load.ready;
    await sleep(2_000); // past the clients' start-up, at a steady rate
    ctx.progress(`under load: ${samples} trips (at most ${budgetMs / 1000} s)`);
    const loaded = await measure(fusebox, samples, budgetMs);
    ctx.progress(`  p50 ${loaded.dist.p50.toFixed(1)} ms, p99 ${loaded.dist.p99.toFixed(1)} ms, max ${loaded.dist.max.toFixed(1)} ms`);
    load.stop();
    const background = await load.result;
    load = null;

    await fusebox.close();
    fusebox = null;
    processor.stop();
    const served = await processor.result;
    processor = null;

    const loadedMet = loaded.dist.p99 < 100 && background.ratePerSec >= BACKGROUND_RATE * 0.95;
    const figures: Figure[] = [
      latencyFigure('trip latency, idle', idle.dist, 'ms', `${idle.missed} missed (> ${GIVE_UP_MS / 1000} s)`),
      { ...latencyFigure(`trip latency, ${BACKGROUND_RATE.toLocaleString('en-US')} spans/s background`, loaded.dist, 'ms', `${loaded.missed} missed (> ${GIVE_UP_MS / 1000} s)`), target: 'p99 < 100 ms at 10,000 spans/s', met: loadedMet },
      figure('background rate achieved', background.ratePerSec, 'spans/s', `4 clients x 25 runs; ${background.dropped} dropped, ${background.unsent} unsent at close`),
      figure('background agents event-loop delay p99', background.eventLoopDelayP99Ms, 'ms'),
      figure('processor spans handled', served.count, 'count', `trips ${served.trips}, mean batch ${served.batchSize.mean.toFixed(0)} spans, ${served.transactions} transactions (${served.transactionRetries} retried)`),
      figure('processor RSS, peak', served.rss.peakMiB, 'MiB'),
    ];
    const notes: string[] = [];
    const expectedTrips = 5 + idle.dist.n + idle.missed + loaded.dist.n + loaded.missed;
    if (served.trips !== expectedTrips) notes.push(`the processor tripped ${served.trips} times; ${expectedTrips} looping runs were measured (background agents never loop).`);
    const kafkajs = describeKafkajsErrors(served.kafkajsErrors);
    if (kafkajs) notes.push(`Processor: ${kafkajs}.`);
    if (background.openFailures > 0) notes.push(`${background.openFailures} startRun() calls of the background agents failed and were retried; the first with: ${background.firstOpenError} (see Findings).`);
    if (background.ratePerSec < BACKGROUND_RATE * 0.95) notes.push(`the background agents reached only ${Math.round(background.ratePerSec)} of ${BACKGROUND_RATE} spans/s: the machine could not generate the load alongside the rest.`);
    notes.push('Latency is measured from the 3rd failing call (its span is emitted in the same tick) to the first `guard()` that throws; the poll runs in a setImmediate loop, so it adds at most one event-loop turn.');
    return { figures, notes };
  } finally {
    load?.kill();
    processor?.kill();
    await fusebox?.close().catch(() => {});
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
  }
}

/**
 * Up to `count` looping runs, one after the other, within `budgetMs` (a slow pipeline yields
 * fewer samples rather than an endless run; n in the table says how many); latencies in ms.
 */
async function measure(fusebox: Fusebox, count: number, budgetMs = Infinity): Promise<{ dist: ReturnType<typeof distribution>; missed: number }> {
  const latencies: number[] = [];
  let missed = 0;
  const until = performance.now() + budgetMs;
  for (let i = 0; i < count && performance.now() < until; i++) {
    const latency = await loopUntilHalted(fusebox);
    if (latency === null) missed += 1;
    else latencies.push(latency);
    // Random spacing, so samples do not fall into step with the consumers' fetch cycles.
    await sleep(20 + Math.random() * 60);
  }
  return { dist: distribution(latencies), missed };
}

async function loopUntilHalted(fusebox: Fusebox): Promise<number | null> {
  const run = await fusebox.startRun({ name: 'looper' });
  await run.llm({ model: 'gpt-4o', provider: 'openai' }, async () => ({ output: 'search again', usage: { inputTokens: 900, outputTokens: 30, costMicros: 2_000 } }));
  let offendedAt = 0;
  for (let call = 1; call <= 3; call++) {
    await sleep(THINK_MS);
    await run.tool('web_search', { q: 'fusebox pricing', page: 1 }, () => {
      if (call === 3) offendedAt = performance.now();
      throw new Error('HTTP 503 Service Unavailable');
    }).catch((error: unknown) => {
      if (error instanceof RunHalted) throw new Error('halted before the 3rd identical call: the breaker tripped early');
    });
  }
  // Poll as an agent would look before its next action, but every event-loop turn.
  const latency = await new Promise<number | null>((done) => {
    const poll = () => {
      try {
        run.guard();
      } catch (error) {
        if (error instanceof RunHalted) return done(performance.now() - offendedAt);
        throw error;
      }
      if (performance.now() - offendedAt > GIVE_UP_MS) return done(null);
      setImmediate(poll);
    };
    poll();
  });
  run.end('error', 'halted by Fusebox');
  return latency;
}
