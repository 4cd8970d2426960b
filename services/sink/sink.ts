/**
 * The sink: projects the spans and audit topics into ClickHouse, in batches, idempotently.
 * Each insert carries a dedup token naming its exact slice of the log, and the tables collapse
 * rows by event id, so a restarted or re-reading sink never counts anything twice.
 *
 * Redaction policies (from the policies topic, like the processor's) are applied to each span
 * before its row is built: masked text never reaches ClickHouse.
 *
 * Throughput: span batches of several partitions are handled at once and their rows go to
 * ClickHouse as one insert, each row written into the insert's block as its batch is handled;
 * a backlog's full groups go two at a time (coalescer.ts). The insert's dedup token names every
 * slice it holds.
 * Decoding and inserting overlap: a handler returns once its rows are queued, so the consumer
 * fetches the next batches while ClickHouse writes; a batch's offsets are committed, in order
 * per partition, only once its rows (and dead letters) are stored. If an insert fails, the
 * partition is read again from that batch (`seek`) and later batches' commits are dropped:
 * rows they already inserted come again, which the tables collapse by event id.
 */
import type { EventLog, LogBatch, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { breakerEventCodec } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { insertBreakerEvents, toBreakerRow, type BreakerRow } from '../../storage/tables/breaker-events.js';
import { createSpanBlock, toSpanRow, type SpanBlock, type SpanRow } from '../../storage/tables/spans.js';
import { createCoalescer } from './coalescer.js';
import { startCostRollups } from './cost-rollups.js';
import { TAGS_ATTRIBUTE } from '../../streams/engine.js';
import { createPolicyBook } from '../../streams/policies.js';
import { redactSpan } from '../../streams/redact.js';
import { batchDeadLetters, sendDeadLetters } from '../dead-letter.js';
import { createPolicyFeed } from '../policy-feed.js';
import { createPricing } from '../pricing.js';
import { decodeSpanMessage } from '../decode-span.js';
import type { Logger } from '../logger.js';
import { batchTally, type Metrics } from '../observability/index.js';

export interface SinkOptions {
  log: EventLog;
  topics: Topics;
  store: Store;
  logger: Logger;
  groupId?: string;
  /** Batches (of different partitions) handled at once, whose span rows can share an insert. Default 16. */
  concurrency?: number;
  /** An insert is sent once it holds this many spans. Default 50,000. */
  insertMaxRows?: number;
  /** Or once its first batch has waited this long for others and no insert is running (while one
   *  runs, the next keeps growing: coalescer.ts). Default 300 ms: at 15,000 spans/s the sink spent
   *  35 µs of CPU a span against 46-47 at 20 ms (fewer, larger inserts: fewer parts to merge),
   *  for ~60-80 ms more before a span is queryable at p50 (BENCHMARKS.md, Finding 4). */
  insertLingerMs?: number;
  /** Span inserts running at once. Default 2: with one at a time, draining a backlog kept the
   *  sink at about 1.2 of the box's 2 cores; a second insert lets chDB use the rest. Only full
   *  groups (a backlog) take it; a live stream's lingered groups still go one at a time
   *  (coalescer.ts, BENCHMARKS.md finding 8). */
  insertConcurrency?: number;
  /** A fetch returns once this many bytes wait, or after `fetchMaxWaitMs`. Default 256 KiB and
   *  100 ms: the sink is not on the trip path, and fewer, larger fetches cost it and the broker
   *  less per span (BENCHMARKS.md, Finding 4); at a trickle a span waits at most 100 ms here. */
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /** How often the daily cost rollup is brought up to date (cost-rollups.ts); 0 turns it off. Default 60 s. */
  costRollupEveryMs?: number;
  /** How long a day's ledger must have been left alone before its rollup is recomputed. Default 2 s. */
  costRollupQuietMs?: number;
  /** Prometheus counters to keep (services/observability); rows count under `clickhouse.<table>`. */
  metrics?: Metrics;
}

export const SINK_DEFAULTS = Object.freeze({ concurrency: 16, insertMaxRows: 50_000, insertLingerMs: 300, insertConcurrency: 2, fetchMinBytes: 256 * 1024, fetchMaxWaitMs: 100, costRollupEveryMs: 60_000, costRollupQuietMs: 2_000 });

/** After a failed insert, how long a partition waits before reading the batch again. */
const STORE_RETRY_MS = 500;

/** Batches of one partition handled but not yet stored, before its handler waits for them. */
const MAX_UNSTORED_BATCHES = 8;

/** Per topic-partition: batches on their way to ClickHouse, committed in order once stored. */
interface PartitionPipe {
  /** The commit of the newest batch, chained behind every older one. */
  chain: Promise<void>;
  /** The chain's link of every batch not yet stored, oldest first (each link settles in order). */
  unstored: Promise<void>[];
  /** Bumped when an insert fails: commits of batches handled before that must not land. */
  epoch: number;
  /** The newest stored offset not yet sent to the group coordinator. */
  toCommit: string | null;
  /** The partition's commit in flight: one at a time, each carrying the newest stored offset. */
  committing: Promise<void> | null;
}

export interface SinkStats {
  spans: number;
  /** ClickHouse inserts the spans took (several Kafka batches share one). */
  spanInserts: number;
  breakerEvents: number;
  deadLettered: number;
  /** Batches whose rows could not be stored (read again from the log). */
  storeFailures: number;
}

export function createSink(options: SinkOptions) {
  const stats: SinkStats = { spans: 0, spanInserts: 0, breakerEvents: 0, deadLettered: 0, storeFailures: 0 };
  let producer: LogProducer | null = null;
  let rollups: ReturnType<typeof startCostRollups> | null = null;
  const book = createPolicyBook();
  const policyFeed = createPolicyFeed(options.log, options.topics.policies, book, options.logger.child('policies'));
  const pricing = createPricing(options.log, options.topics.prices, options.logger.child('prices'));
  const spanInserts = createCoalescer<SpanRow, SpanBlock>({
    maxItems: options.insertMaxRows ?? SINK_DEFAULTS.insertMaxRows,
    lingerMs: options.insertLingerMs ?? SINK_DEFAULTS.insertLingerMs,
    concurrency: options.insertConcurrency ?? SINK_DEFAULTS.insertConcurrency,
    newGroup: () => createSpanBlock(options.store),
    async flush(block, slices) {
      await block.insert([...slices].sort().join(','));
      stats.spanInserts += 1;
    },
  });

  const pipes = new Map<string, PartitionPipe>();

  /**
   * Commits a partition's newest stored offset, one commit at a time: batches stored while a
   * commit is in flight are covered by the next, so under load a partition costs the broker a
   * commit per round trip, not one per batch. Best effort: a commit lost to a rebalance or a
   * stop only means those rows are read again, and the tables collapse them.
   */
  async function commitStored(topic: string, partition: number, pipe: PartitionPipe): Promise<void> {
    try {
      while (pipe.toCommit !== null) {
        const offset = pipe.toCommit;
        pipe.toCommit = null;
        await consumer.commit([{ topic, partition, offset }]).catch(() => {});
      }
    } finally {
      pipe.committing = null;
    }
  }

  async function handleBatch(batch: LogBatch): Promise<void> {
    const key = `${batch.topic}\u0000${batch.partition}`;
    const pipe = pipes.get(key) ?? { chain: Promise.resolve(), unstored: [], epoch: 0, toCommit: null, committing: null };
    pipes.set(key, pipe);
    const epoch = pipe.epoch;
    const stored = storeBatch(batch);
    stored.catch(() => {}); // handled in the chain below
    pipe.chain = pipe.chain.then(async () => {
      try {
        const onStored = await stored;
        if (pipe.epoch !== epoch) return;
        onStored();
        pipe.toCommit = (BigInt(batch.messages.at(-1)!.offset) + 1n).toString();
        pipe.committing ??= commitStored(batch.topic, batch.partition, pipe);
      } catch (error) {
        if (pipe.epoch !== epoch) return;
        pipe.epoch += 1;
        stats.storeFailures += 1;
        options.logger.warn('storing a batch failed; reading its partition again from it', { topic: batch.topic, partition: batch.partition, offset: batch.messages[0]!.offset, error: (error as Error).message });
        // At once: a batch of this partition handled before the seek would commit past the
        // failed one (its epoch is the new one); after it, they start from the failed batch.
        try {
          consumer.seek(batch.topic, batch.partition, BigInt(batch.messages[0]!.offset));
        } catch {
          // A consumer that is not running starts again from the committed offsets anyway.
        }
        // Holding the chain holds the partition's commits, and soon its fetching (back-pressure):
        // a store that is down is not hammered.
        await new Promise((ok) => setTimeout(ok, STORE_RETRY_MS));
      } finally {
        pipe.unstored.shift(); // links settle in chain order: this one is the oldest
      }
    });
    pipe.unstored.push(pipe.chain);
    // Back-pressure: no more fetching for this partition while too much is on its way, until
    // it is back at the limit (not until all of it is stored: that stalled fetching for a
    // whole insert while the next group waited for rows).
    const over = pipe.unstored.length - MAX_UNSTORED_BATCHES;
    if (over > 0) await pipe.unstored[over - 1];
  }

  /**
   * Decodes, prices and redacts a batch's spans into the open insert's block (dead-lettering the
   * unusable), and says how many went in and when they are stored. A function of its own so
   * nothing holds the rows while the insert runs: written into the block, they die young.
   */
  function queueSpans(batch: LogBatch, dead: ReturnType<typeof batchDeadLetters>, slice: string): { rows: number; stored: Promise<void> } {
    const rows: SpanRow[] = [];
    for (const message of batch.messages) {
      const decoded = decodeSpanMessage(message, pricing.price);
      if (decoded.ok) {
        const { event } = decoded;
        const tags = event.attributes[TAGS_ATTRIBUTE]?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
        const redactions = book.redactions({ tenantId: event.tenantId, agentId: event.agentId, runId: event.runId, tags });
        rows.push(toSpanRow(redactSpan(event, redactions), message));
      }
      else dead.add(message, decoded.code, decoded.reason);
    }
    return { rows: rows.length, stored: spanInserts.add(rows, slice) };
  }

  /** Decodes, redacts and queues a batch's rows; resolves once they and its dead letters are
   *  stored, with what to count then. */
  async function storeBatch(batch: LogBatch): Promise<() => void> {
    const first = batch.messages[0]!.offset;
    const last = batch.messages.at(-1)!.offset;
    const slice = `${batch.topic}:${batch.partition}:${first}-${last}`;
    const tally = batchTally();
    const dead = batchDeadLetters('sink', tally.deadLetter);
    let written: [table: string, rows: number];
    if (batch.topic === options.topics.spans) {
      const queued = queueSpans(batch, dead, slice);
      written = ['clickhouse.spans', queued.rows];
      await queued.stored;
    } else {
      const rows: BreakerRow[] = [];
      for (const message of batch.messages) {
        const event = dead.decode(breakerEventCodec, message);
        if (event) rows.push(toBreakerRow(event));
      }
      written = ['clickhouse.breaker_events', rows.length];
      await insertBreakerEvents(options.store.client, rows, slice);
    }
    await sendDeadLetters(producer!, options.topics.deadLetter, dead.messages);
    const isSpans = batch.topic === options.topics.spans;
    const count = tally.onCommit(options.metrics, isSpans ? 'span' : 'breaker_event', batch.messages.length, [written, [options.topics.deadLetter, dead.messages]]);
    return () => {
      if (isSpans) stats.spans += written[1];
      else stats.breakerEvents += written[1];
      stats.deadLettered += dead.messages.length;
      count?.();
    };
  }

  const consumer = options.log.groupConsumer({
    groupId: options.groupId ?? 'fusebox-sink',
    topics: [options.topics.spans, options.topics.audit],
    fromBeginning: true,
    handleBatch,
    commit: 'by-handler',
    fetch: { minBytes: options.fetchMinBytes ?? SINK_DEFAULTS.fetchMinBytes, maxWaitTimeInMs: options.fetchMaxWaitMs ?? SINK_DEFAULTS.fetchMaxWaitMs },
    concurrency: options.concurrency ?? SINK_DEFAULTS.concurrency,
    onCrash: (error) => options.logger.error('sink consumer crashed', { error: error.message }),
  });

  return {
    lag: () => consumer.lag(),
    stats: (): Readonly<SinkStats & { policiesApplied: number; pricesApplied: number }> => ({ ...stats, policiesApplied: policyFeed.stats().applied, pricesApplied: pricing.stats().overridesApplied }),
    async start(): Promise<void> {
      producer = await options.log.producer();
      await Promise.all([policyFeed.start(), pricing.start()]);
      await consumer.start();
      const everyMs = options.costRollupEveryMs ?? SINK_DEFAULTS.costRollupEveryMs;
      if (everyMs > 0) rollups = startCostRollups({ store: options.store, everyMs, quietMs: options.costRollupQuietMs ?? SINK_DEFAULTS.costRollupQuietMs, logger: options.logger.child('cost-rollups') });
    },
    async stop(): Promise<void> {
      await rollups?.stop();
      await consumer.stop();
      // What was handled is stored before the producer closes (its commits may not land: the
      // consumer has left, so the next sink reads that tail again, and the tables collapse it).
      await spanInserts.drain().catch(() => {});
      await Promise.allSettled([...pipes.values()].map((pipe) => pipe.chain));
      await Promise.allSettled([...pipes.values()].map((pipe) => pipe.committing));
      await Promise.all([policyFeed.stop(), pricing.stop()]);
      await producer?.close();
    },
  };
}

export type Sink = ReturnType<typeof createSink>;
