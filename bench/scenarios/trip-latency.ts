/**
 * Trip latency: how long a looping agent keeps its hands free after its offending call. The
 * whole path is real: client emitter -> Kafka -> processor (own process) -> control-early and
 * control topics -> the client's readers -> breaker board -> `run.guard()`.
 *
 * Where the time goes, per sample, from broker timestamps read back afterwards (one machine,
 * one clock): the spans and control-early topics stamp each record when the broker appends it
 * (LogAppendTime), and the processor's transactional producer stamps each committed trip when it
 * hands it over (CreateTime). So: emit -> span appended (client linger and produce), span
 * appended -> early trip appended (processor fetch, fold, the early lane's produce), early trip
 * appended -> `RunHalted` (the client's fetch); and for comparison, span appended -> the trip
 * handed to its transaction (what an agent reading only the committed copy would wait, plus
 * that transaction's commit).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createFusebox, RunHalted, type Fusebox } from '../../client/index.js';
import { controlEventCodec, spanEventCodec } from '../../schemas/index.js';
import { startWorker, type WorkerHandle } from '../lib/child.js';
import { deleteTopics, freshTopics, rawKafka, scanTopic } from '../lib/kafka.js';
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
const TENANT = 'looper-tenant';

/** One looping run measured: wall-clock (Date.now) ends, to line up with broker timestamps. */
interface Sample {
  runId: string;
  latencyMs: number;
  offendedAtMs: number;
  haltedAtMs: number;
}

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const samples = sized(ctx, 200, 15);
  const budgetMs = sized(ctx, 90_000, 25_000);
  const bench = await freshTopics(ctx.brokers, 'trip', PARTITIONS);
  await stampOnAppend(ctx.brokers, [bench.topics.spans, bench.topics.controlEarly]);
  let processor: WorkerHandle<DrainResult> | null = null;
  let load: WorkerHandle<LoadResult> | null = null;
  let fusebox: Fusebox | null = null;
  try {
    ctx.progress('starting a processor in its own process');
    processor = startWorker<DrainResult>('workers/drain.ts', { mode: 'processor', brokers: ctx.brokers, prefix: bench.prefix, expected: 0 } satisfies DrainInput, { label: 'processor', progress: ctx.progress, timeoutMs: 280_000 });
    await processor.ready;
    fusebox = await createFusebox({ tenantId: TENANT, agentId: 'looper', brokers: ctx.brokers, topicPrefix: bench.prefix });

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
    // The segments are for the full table; a quick check skips reading three topics back.
    if (!ctx.short) ctx.progress('reading broker timestamps back, for where the time went');
    const stages = ctx.short ? null : await breakdown(ctx.brokers, bench.topics, [...idle.samples, ...loaded.samples]);
    const stageFigures = (label: string, samples: readonly Sample[]) => {
      if (!stages) return [];
      const found = samples.map((s) => stages.get(s.runId)).filter((s) => s !== undefined);
      const note = `${found.length} of ${samples.length} samples found on all three topics`;
      return [
        latencyFigure(`${label}: emit -> span appended`, distribution(found.map((f) => f.produce)), 'ms', `client linger + produce; ${note}`),
        latencyFigure(`${label}: span appended -> early trip appended`, distribution(found.map((f) => f.decide)), 'ms', 'processor fetch + fold + the early lane\'s produce'),
        latencyFigure(`${label}: early trip appended -> RunHalted`, distribution(found.map((f) => f.deliver)), 'ms', "the client's fetch of control-early"),
        latencyFigure(`${label}: span appended -> trip handed to its transaction`, distribution(found.map((f) => f.transaction)), 'ms', 'for comparison: fetch + fold + the wait for the transaction before (the committed copy then waits for its own commit)'),
      ];
    };

    const loadedMet = loaded.dist.p99 < 100 && background.ratePerSec >= BACKGROUND_RATE * 0.95;
    const figures: Figure[] = [
      latencyFigure('trip latency, idle', idle.dist, 'ms', `${idle.missed} missed (> ${GIVE_UP_MS / 1000} s)`),
      { ...latencyFigure(`trip latency, ${BACKGROUND_RATE.toLocaleString('en-US')} spans/s background`, loaded.dist, 'ms', `${loaded.missed} missed (> ${GIVE_UP_MS / 1000} s)`), target: 'p99 < 100 ms at 10,000 spans/s', met: loadedMet },
      ...stageFigures('idle', idle.samples),
      ...stageFigures('under load', loaded.samples),
      figure('background rate achieved', background.ratePerSec, 'spans/s', `4 clients x 25 runs; ${background.dropped} dropped, ${background.unsent} unsent at close`),
      figure('background agents event-loop delay p99', background.eventLoopDelayP99Ms, 'ms'),
      figure('processor spans handled', served.count, 'count', `trips ${served.trips}, mean batch ${served.batchSize.mean.toFixed(0)} spans, ${served.transactions} transactions (${served.transactionRetries} retried)`),
      latencyFigure('processor: span batch appended -> its handler starts', served.batchAge, 'ms', 'every span batch of the run (idle and loaded): how old a fetch is when the processor starts on it'),
      figure('processor RSS, peak', served.rss.peakMiB, 'MiB'),
    ];
    const notes: string[] = [];
    const expectedTrips = 5 + idle.dist.n + idle.missed + loaded.dist.n + loaded.missed;
    if (served.trips !== expectedTrips) notes.push(`the processor tripped ${served.trips} times; ${expectedTrips} looping runs were measured (background agents never loop).`);
    const kafkajs = describeKafkajsErrors(served.kafkajsErrors);
    if (kafkajs) notes.push(`Processor: ${kafkajs}.`);
    if (background.openFailures > 0) notes.push(`${background.openFailures} startRun() calls of the background agents failed and were retried; the first with: ${background.firstOpenError} (see Findings).`);
    if (background.ratePerSec < BACKGROUND_RATE * 0.95) notes.push(`the background agents reached only ${Math.round(background.ratePerSec)} of ${BACKGROUND_RATE} spans/s: the machine could not generate the load alongside the rest.`);
    notes.push('Latency is measured from the 3rd failing call (its span is emitted in the same tick) to the first `guard()` that throws; guard() is polled every millisecond (a timer), so the poll adds about a millisecond at most.');
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
async function measure(fusebox: Fusebox, count: number, budgetMs = Infinity): Promise<{ dist: ReturnType<typeof distribution>; missed: number; samples: Sample[] }> {
  const samples: Sample[] = [];
  let missed = 0;
  const until = performance.now() + budgetMs;
  for (let i = 0; i < count && performance.now() < until; i++) {
    const sample = await loopUntilHalted(fusebox);
    if (sample === null) missed += 1;
    else samples.push(sample);
    // Random spacing, so samples do not fall into step with the consumers' fetch cycles.
    await sleep(20 + Math.random() * 60);
  }
  return { dist: distribution(samples.map((s) => s.latencyMs)), missed, samples };
}

async function loopUntilHalted(fusebox: Fusebox): Promise<Sample | null> {
  const run = await fusebox.startRun({ name: 'looper' });
  await run.llm({ model: 'gpt-4o', provider: 'openai' }, async () => ({ output: 'search again', usage: { inputTokens: 900, outputTokens: 30, costMicros: 2_000 } }));
  let offendedAt = 0;
  let offendedAtMs = 0;
  for (let call = 1; call <= 3; call++) {
    await sleep(THINK_MS);
    await run.tool('web_search', { q: 'fusebox pricing', page: 1 }, () => {
      if (call === 3) {
        offendedAt = performance.now();
        offendedAtMs = Date.now();
      }
      throw new Error('HTTP 503 Service Unavailable');
    }).catch((error: unknown) => {
      if (error instanceof RunHalted) throw new Error('halted before the 3rd identical call: the breaker tripped early');
    });
  }
  // Poll as an agent would look before its next action, every millisecond: a timer adds about a
  // millisecond at most and leaves both cores to the system measured (a setImmediate loop, used
  // before, kept one of them busy).
  const sample = await new Promise<Sample | null>((done) => {
    const poll = () => {
      try {
        run.guard();
      } catch (error) {
        if (error instanceof RunHalted) return done({ runId: run.id, latencyMs: performance.now() - offendedAt, offendedAtMs, haltedAtMs: Date.now() });
        throw error;
      }
      if (performance.now() - offendedAt > GIVE_UP_MS) return done(null);
      setTimeout(poll, 1);
    };
    poll();
  });
  run.end('error', 'halted by Fusebox');
  return sample;
}

/** These topics stamp records as the broker appends them, so the bench can split the path there. */
async function stampOnAppend(brokers: string[], topics: string[]): Promise<void> {
  const admin = rawKafka(brokers, 'bench-trip-config').admin();
  await admin.connect();
  try {
    await admin.alterConfigs({ validateOnly: false, resources: topics.map((name) => ({ type: 2 /* TOPIC */, name, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] })) });
  } finally {
    await admin.disconnect();
  }
}

interface Stages {
  produce: number;
  decide: number;
  deliver: number;
  transaction: number;
}

/** Per measured run: ms from the offending call to its span's append, on to the early trip's append, on to RunHalted; and to the transactional hand-over. */
async function breakdown(brokers: string[], topics: { spans: string; control: string; controlEarly: string }, samples: readonly Sample[]): Promise<Map<string, Stages>> {
  const byRun = new Map(samples.map((s) => [s.runId, s]));
  // The offending span is the run's last tool call (its 3rd identical one).
  const appendedAt = new Map<string, number>();
  await scanTopic(brokers, topics.spans, (message) => {
    if (!message.value) return;
    const event = spanEventCodec.decode(message.value);
    if (event.tenantId === TENANT && event.kind === 'tool_call' && byRun.has(event.runId)) appendedAt.set(event.runId, Math.max(appendedAt.get(event.runId) ?? 0, message.timestampMs));
  });
  const tripTimes = async (topic: string) => {
    const at = new Map<string, number>();
    await scanTopic(brokers, topic, (message) => {
      if (!message.value) return;
      const control = controlEventCodec.decode(message.value);
      if (control.tenantId === TENANT && control.action === 'trip' && control.scope === 'run' && byRun.has(control.target) && !at.has(control.target)) at.set(control.target, message.timestampMs);
    });
    return at;
  };
  const earlyAt = await tripTimes(topics.controlEarly);
  const handedOverAt = await tripTimes(topics.control);
  const stages = new Map<string, Stages>();
  for (const [runId, sample] of byRun) {
    const appended = appendedAt.get(runId);
    const early = earlyAt.get(runId);
    const handedOver = handedOverAt.get(runId);
    if (appended === undefined || early === undefined || handedOver === undefined) continue;
    stages.set(runId, { produce: appended - sample.offendedAtMs, decide: early - appended, deliver: sample.haltedAtMs - early, transaction: handedOver - appended });
  }
  return stages;
}
