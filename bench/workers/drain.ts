/**
 * A consumer in its own process, draining the spans topic from the beginning with a fresh
 * group, timed by batch:
 *   raw        plain kafkajs, nothing done with a message (the ceiling)
 *   decode     plain kafkajs plus Avro decoding of every span
 *   processor  createProcessor (the real service); with `expected: 0` it runs until stopped
 *   sink       createSink into chDB at `chdbPath`
 *
 * The rate runs from the first completed batch to the one that reaches `expected`, so group
 * join and process start are reported apart. For the services, the event log is wrapped to
 * time each handleBatch call: how much of the wall clock the service's own work takes, and how
 * big the batches kafkajs hands it are.
 *
 * Live services (`expected: 0`) can join a group the parent names, so several processes form one
 * group (scale-out), and a sink can measure how soon spans become queryable (../lib/freshness.ts).
 */
import { randomUUID } from 'node:crypto';
import { createKafkaLog } from '../../log/kafka.js';
import type { EventLog, GroupConsumerOptions, LogBatch } from '../../log/port.js';
import { topicNames } from '../../log/topics.js';
import { spanEventCodec } from '../../schemas/index.js';
import { silentLogger } from '../../services/logger.js';
import { createProcessor } from '../../services/processor/processor.js';
import { createSink } from '../../services/sink/sink.js';
import { openStore } from '../../storage/store.js';
import { measureFreshness, type FreshnessSamples } from '../lib/freshness.js';
import { rawKafka } from '../lib/kafka.js';
import { distribution, perSecond, rssSampler, type Distribution } from '../lib/stats.js';
import { workerMain, type WorkerIO } from '../lib/worker-side.js';

export type DrainMode = 'raw' | 'decode' | 'processor' | 'sink';

export interface DrainInput {
  mode: DrainMode;
  brokers: string[];
  prefix: string;
  /** Spans to wait for; 0 runs a live processor until the parent says stop. */
  expected: number;
  chdbPath?: string;
  /** The consumer group to join; default a fresh one of this worker's own. */
  groupId?: string;
  /** Kafka client id of the processor or sink (default the group id): tells group members apart. */
  clientId?: string;
  /** Sink only: measure emit-to-queryable latency (freshness.ts). */
  freshness?: boolean;
  /** What the processor or sink fetches and produces with (default 'wire', Fusebox's own; 'kafkajs' to compare). */
  kafkaClient?: 'wire' | 'kafkajs';
}

export interface DrainResult {
  mode: DrainMode;
  count: number;
  /** First completed batch to the last: the steady drain. */
  elapsedMs: number;
  ratePerSec: number;
  /** start() until the group had joined and the consumer held its partitions. */
  joinMs: number;
  /** start() to the last batch. */
  totalMs: number;
  /** From when the first batch's handler began to the last batch: every row, no batch left out
   *  (with batches handled concurrently, several finish together with the first one). */
  activeMs: number;
  batches: number;
  batchSize: Distribution;
  /** Per span batch, ms from its newest record's timestamp (the broker's append time, where the topic uses LogAppendTime) to its handler starting. */
  batchAge: Distribution;
  /** The process's CPU over the drain, as a share of one core (the whole process: its fetching and producing included). */
  cpuPercent: number | null;
  /** The same per span drained. */
  cpuMicrosPerSpan: number | null;
  rss: { peakMiB: number; endMiB: number; heapUsedMiB: number };
  trips?: number;
  deadLettered?: number;
  /** Kafka transactions the processor committed (one per batch, if it is exactly-once). */
  transactions?: number | null;
  /** Transactions published again after a failure (each with a fresh producer). */
  transactionRetries?: number | null;
  /** Rows in ClickHouse's spans table after the drain (sink only). */
  rowsInStore?: number;
  /** Span inserts the sink sent to ClickHouse (sink only). */
  inserts?: number;
  /** Errors kafkajs logged (it logs retried ones too), by message, with how often. */
  kafkajsErrors: Record<string, number>;
  /** Spans handled per TIMELINE_BUCKET_MS, by the bucket's start (Date.now() time), so the
   *  parent can line several processes up on one clock. */
  timeline: Array<[bucketStartMs: number, spans: number]>;
  freshness?: FreshnessSamples;
}

export const TIMELINE_BUCKET_MS = 500;

/** CPU from the first batch's start to the last batch's end: a share of one core, and per span. */
function cpuOver(clock: BatchClock): { cpuPercent: number | null; cpuMicrosPerSpan: number | null } {
  if (!clock.firstCpu || !clock.lastCpu || clock.count === 0) return { cpuPercent: null, cpuMicrosPerSpan: null };
  const micros = clock.lastCpu.user + clock.lastCpu.system - clock.firstCpu.user - clock.firstCpu.system;
  return { cpuPercent: (100 * micros) / 1_000 / Math.max(1, clock.lastAt - clock.firstStartedAt), cpuMicrosPerSpan: micros / clock.count };
}

class BatchClock {
  readonly sizes: number[] = [];
  /** Per span batch, ms from its newest record's timestamp to its handler starting (a fetch's age, when the topic stamps on append). */
  readonly ages: number[] = [];
  count = 0;
  /** The process's CPU (user + system) when the first batch's handler began and after the latest batch. */
  firstCpu: NodeJS.CpuUsage | null = null;
  lastCpu: NodeJS.CpuUsage | null = null;
  firstAt = 0;
  firstCount = 0;
  /** When the first batch's handler began: the start of the window the CPU is measured over. */
  firstStartedAt = 0;
  lastAt = 0;
  readonly timeline = new Map<number, number>();
  private reached: () => void = () => {};
  readonly done: Promise<void>;

  constructor(private readonly expected: number) {
    this.done = new Promise((ok) => { this.reached = ok; });
  }

  batch(size: number, handlerMs: number, cpuAtStart: NodeJS.CpuUsage): void {
    const now = performance.now();
    this.count += size;
    this.firstCpu ??= cpuAtStart;
    this.lastCpu = process.cpuUsage();
    this.sizes.push(size);
    const bucket = Date.now() - (Date.now() % TIMELINE_BUCKET_MS);
    this.timeline.set(bucket, (this.timeline.get(bucket) ?? 0) + size);
    if (this.firstAt === 0) {
      this.firstAt = now;
      this.firstCount = this.count;
      this.firstStartedAt = now - handlerMs;
    }
    this.lastAt = now;
    if (this.expected > 0 && this.count >= this.expected) this.reached();
  }
}

interface SpanBatchObserver {
  received(batch: LogBatch): void;
  stored(batch: LogBatch): void;
}

/** The event log with every group consumer's handleBatch timed (and span batches shown to `observer`): observation only. */
function timedLog(log: EventLog, clock: BatchClock, topic: string, observer?: SpanBatchObserver): EventLog {
  return {
    ...log,
    groupConsumer: (options: GroupConsumerOptions) => log.groupConsumer({
      ...options,
      async handleBatch(batch) {
        // The sink also reads the audit topic; only spans count toward the drain.
        const spans = batch.topic === topic;
        if (spans) observer?.received(batch);
        if (spans && batch.messages.length > 0) clock.ages.push(Date.now() - batch.messages.at(-1)!.timestampMs);
        const started = performance.now();
        const cpu = process.cpuUsage();
        await options.handleBatch(batch);
        if (spans) {
          clock.batch(batch.messages.length, performance.now() - started, cpu);
          observer?.stored(batch);
        }
      },
    }),
  };
}

async function drain(input: DrainInput, io: WorkerIO): Promise<DrainResult> {
  const topics = topicNames(input.prefix);
  const clock = new BatchClock(input.expected);
  const memory = rssSampler();
  const groupId = input.groupId ?? `bench-${input.mode}-${randomUUID().slice(0, 8)}`;
  const kafkajsErrors: Record<string, number> = {};
  let stopConsumer: () => Promise<void>;
  let processorStats: (() => { trips: number; deadLettered: number; transactions?: number; transactionRetries?: number }) | null = null;
  let sinkStore: Awaited<ReturnType<typeof openStore>> | null = null;
  let sinkInserts: (() => number) | null = null;
  /** Rows the sink has stored: its handlers return before their insert does. */
  let sinkStored: (() => number) | null = null;
  let freshness: ReturnType<typeof measureFreshness> | null = null;

  const started = performance.now();
  if (input.mode === 'raw' || input.mode === 'decode') {
    const consumer = rawKafka(input.brokers, groupId).consumer({ groupId, minBytes: 1, maxWaitTimeInMs: 25 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.spans], fromBeginning: true });
    const joined = new Promise<void>((ok) => { const off = consumer.on(consumer.events.GROUP_JOIN, () => { off(); ok(); }); });
    const decode = input.mode === 'decode';
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const t = performance.now();
        const cpu = process.cpuUsage();
        if (decode) for (const message of batch.messages) spanEventCodec.decode(message.value!);
        clock.batch(batch.messages.length, performance.now() - t, cpu);
      },
    });
    await joined;
    stopConsumer = () => consumer.disconnect();
  } else {
    const client = input.kafkaClient ?? 'wire';
    const kafkaLog = createKafkaLog({ brokers: input.brokers, clientId: input.clientId ?? groupId, log: (line) => tally(line, kafkajsErrors, io), producer: client, fetcher: client });
    if (input.mode === 'processor') {
      const log = timedLog(kafkaLog, clock, topics.spans);
      const processor = createProcessor({ log, topics, logger: silentLogger, groupId });
      await processor.start();
      processorStats = () => processor.stats();
      stopConsumer = async () => { await processor.stop(); await log.close(); };
    } else {
      if (!input.chdbPath) throw new Error('sink mode needs chdbPath');
      sinkStore = await openStore({ kind: 'chdb', path: input.chdbPath });
      if (input.freshness) freshness = measureFreshness(sinkStore);
      const log = timedLog(kafkaLog, clock, topics.spans, freshness ?? undefined);
      const sink = createSink({ log, topics, store: sinkStore, logger: silentLogger, groupId });
      await sink.start();
      sinkInserts = () => sink.stats().spanInserts;
      sinkStored = () => sink.stats().spans;
      stopConsumer = async () => { await sink.stop(); await log.close(); };
    }
  }
  const joinMs = performance.now() - started;
  io.ready({ joinMs });

  if (input.expected > 0) {
    let lastReport = 0;
    const progress = setInterval(() => {
      if (clock.count - lastReport >= input.expected / 4) {
        lastReport = clock.count;
        io.progress(`${clock.count.toLocaleString('en-US')} of ${input.expected.toLocaleString('en-US')}`);
      }
    }, 250);
    await clock.done;
    // The drain ends when the last row is in ClickHouse, not when the last batch was handed over.
    if (sinkStored) {
      while (sinkStored() < input.expected) await new Promise((ok) => setTimeout(ok, 2));
      clock.lastAt = performance.now();
    }
    clearInterval(progress);
  } else {
    await io.stopRequested;
  }
  const counters = processorStats ? { trips: processorStats().trips, deadLettered: processorStats().deadLettered, transactions: processorStats().transactions ?? null, transactionRetries: processorStats().transactionRetries ?? null } : {};
  const inserts = sinkInserts?.();
  const fresh = freshness?.stop();
  await stopConsumer();

  let rowsInStore: number | undefined;
  if (sinkStore) {
    const result = await sinkStore.client.query({ query: 'SELECT count() AS n FROM spans', format: 'JSONEachRow' });
    const [row] = await result.json<{ n: string }>();
    rowsInStore = Number(row?.n ?? 0);
    await sinkStore.close();
  }

  const elapsedMs = clock.lastAt - clock.firstAt;
  return {
    mode: input.mode,
    count: clock.count,
    elapsedMs,
    ratePerSec: perSecond(clock.count - clock.firstCount, elapsedMs),
    joinMs,
    totalMs: clock.lastAt - started,
    activeMs: clock.lastAt - clock.firstStartedAt,
    batches: clock.sizes.length,
    batchSize: distribution(clock.sizes),
    batchAge: distribution(clock.ages),
    ...cpuOver(clock),
    rss: memory.stop(),
    ...counters,
    ...(rowsInStore !== undefined ? { rowsInStore } : {}),
    ...(inserts !== undefined ? { inserts } : {}),
    kafkajsErrors,
    timeline: [...clock.timeline],
    ...(fresh ? { freshness: fresh } : {}),
  };
}

/**
 * kafkajs logs every retried error, which under some loads is hundreds of lines: the first of
 * each kind is shown, all are counted and reported with the result.
 */
function tally(line: string, counts: Record<string, number>, io: WorkerIO): void {
  const error = /"error":"([^"]*)"/.exec(line)?.[1] ?? line.replace(/\{.*$/, '').trim();
  counts[error] = (counts[error] ?? 0) + 1;
  if (counts[error] === 1) io.progress(`kafkajs: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
}

/** `kafkajs logged 12 errors (11x 'The producer attempted ...')`, or null when it logged none. */
export function describeKafkajsErrors(counts: Record<string, number>): string | null {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return null;
  const total = entries.reduce((n, [, c]) => n + c, 0);
  return `kafkajs logged ${total} errors (retried unless the drain failed): ${entries.map(([m, c]) => `${c}x '${m}'`).join('; ')}`;
}

workerMain(drain);
