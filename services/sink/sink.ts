/**
 * The sink: projects the spans and audit topics into ClickHouse, in batches, idempotently.
 * Each insert carries a dedup token naming its exact slice of the log, and the tables collapse
 * rows by event id, so a restarted or re-reading sink never counts anything twice.
 *
 * Redaction policies (from the policies topic, like the processor's) are applied to each span
 * before its row is built: masked text never reaches ClickHouse.
 *
 * Throughput: span batches of several partitions are handled at once and their rows go to
 * ClickHouse as one insert (coalescer.ts); each handler returns, and its offsets are committed,
 * only after that insert succeeded. The insert's dedup token names every slice it holds.
 */
import type { EventLog, LogBatch, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { breakerEventCodec, SchemaError } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { insertBreakerEvents, toBreakerRow, type BreakerRow } from '../../storage/tables/breaker-events.js';
import { insertSpans, toSpanRow, type SpanRow } from '../../storage/tables/spans.js';
import { createCoalescer } from './coalescer.js';
import { startCostRollups } from './cost-rollups.js';
import { TAGS_ATTRIBUTE } from '../../streams/engine.js';
import { createPolicyBook } from '../../streams/policies.js';
import { redactSpan } from '../../streams/redact.js';
import { deadLetterFor, sendDeadLetters } from '../dead-letter.js';
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
  /** Or once its first batch has waited this long for others. Default 20 ms. */
  insertLingerMs?: number;
  /** How often the daily cost rollup is brought up to date (cost-rollups.ts); 0 turns it off. Default 60 s. */
  costRollupEveryMs?: number;
  /** How long a day's ledger must have been left alone before its rollup is recomputed. Default 2 s. */
  costRollupQuietMs?: number;
  /** Prometheus counters to keep (services/observability); rows count under `clickhouse.<table>`. */
  metrics?: Metrics;
}

export const SINK_DEFAULTS = Object.freeze({ concurrency: 16, insertMaxRows: 50_000, insertLingerMs: 20, costRollupEveryMs: 60_000, costRollupQuietMs: 2_000 });

export interface SinkStats {
  spans: number;
  /** ClickHouse inserts the spans took (several Kafka batches share one). */
  spanInserts: number;
  breakerEvents: number;
  deadLettered: number;
}

export function createSink(options: SinkOptions) {
  const stats: SinkStats = { spans: 0, spanInserts: 0, breakerEvents: 0, deadLettered: 0 };
  let producer: LogProducer | null = null;
  let rollups: ReturnType<typeof startCostRollups> | null = null;
  const book = createPolicyBook();
  const policyFeed = createPolicyFeed(options.log, options.topics.policies, book, options.logger.child('policies'));
  const pricing = createPricing(options.log, options.topics.prices, options.logger.child('prices'));
  const spanInserts = createCoalescer<SpanRow>({
    maxItems: options.insertMaxRows ?? SINK_DEFAULTS.insertMaxRows,
    lingerMs: options.insertLingerMs ?? SINK_DEFAULTS.insertLingerMs,
    async flush(rows, slices) {
      await insertSpans(options.store, rows, [...slices].sort().join(','));
      stats.spanInserts += 1;
    },
  });

  async function handleBatch(batch: LogBatch): Promise<void> {
    const first = batch.messages[0]!.offset;
    const last = batch.messages.at(-1)!.offset;
    const slice = `${batch.topic}:${batch.partition}:${first}-${last}`;
    const dead = [];
    const tally = batchTally();
    let written: [table: string, rows: unknown[]];
    if (batch.topic === options.topics.spans) {
      const rows: SpanRow[] = [];
      for (const message of batch.messages) {
        const decoded = decodeSpanMessage(message, pricing.price);
        if (decoded.ok) {
          const { event } = decoded;
          const tags = event.attributes[TAGS_ATTRIBUTE]?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
          const redactions = book.redactions({ tenantId: event.tenantId, agentId: event.agentId, runId: event.runId, tags });
          rows.push(toSpanRow(redactSpan(event, redactions), message));
        }
        else {
          dead.push(deadLetterFor('sink', message, decoded.code, decoded.reason));
          tally.deadLetter(decoded.code);
        }
      }
      written = ['clickhouse.spans', rows];
      await spanInserts.add(rows, slice);
      stats.spans += rows.length;
    } else {
      const rows: BreakerRow[] = [];
      for (const message of batch.messages) {
        try {
          rows.push(toBreakerRow(breakerEventCodec.decode(message.value ?? Buffer.alloc(0))));
        } catch (error) {
          if (!(error instanceof SchemaError)) throw error;
          dead.push(deadLetterFor('sink', message, error.code, error.message));
          tally.deadLetter(error.code);
        }
      }
      written = ['clickhouse.breaker_events', rows];
      await insertBreakerEvents(options.store.client, rows, slice);
      stats.breakerEvents += rows.length;
    }
    await sendDeadLetters(producer!, options.topics.deadLetter, dead);
    stats.deadLettered += dead.length;
    tally.onCommit(options.metrics, batch.topic === options.topics.spans ? 'span' : 'breaker_event', batch.messages.length, [written, [options.topics.deadLetter, dead]])?.();
  }

  const consumer = options.log.groupConsumer({
    groupId: options.groupId ?? 'fusebox-sink',
    topics: [options.topics.spans, options.topics.audit],
    fromBeginning: true,
    handleBatch,
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
      await Promise.all([policyFeed.stop(), pricing.stop()]);
      await producer?.close();
    },
  };
}

export type Sink = ReturnType<typeof createSink>;
