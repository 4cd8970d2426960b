/**
 * Pricing for a process that reads spans (the processor and the sink): the shipped list plus
 * every tenant override on the prices topic, read whole before the first span and followed
 * after, so an override applies to the next span handled (no redeploy). Both processes build
 * the same table from the same file and topic, so a span is priced alike in both: the cost the
 * detectors count is the cost ClickHouse stores.
 *
 * (An override takes effect from its effectiveFromMs, by event time; a span of that time handled
 * by one process just before the override reached it is priced by the previous version there.
 * `fusebox reprice` makes ClickHouse exact again; the processor's decisions stand.)
 */
import type { EventLog, LogMessage, PartitionReader } from '../log/port.js';
import { priceOverrideCodec, SchemaError, type SpanEvent } from '../schemas/index.js';
import { shippedPrices } from '../storage/prices/shipped.js';
import { createPriceTable, priceSpan, type PriceTable } from '../streams/pricing/index.js';
import { followWholeTopic } from './compacted-topic.js';
import type { Logger } from './logger.js';

export interface PricingStats {
  overridesApplied: number;
  overridesRejected: number;
}

export function createPricing(log: EventLog, topic: string, logger: Logger) {
  const table: PriceTable = createPriceTable(shippedPrices());
  const stats: PricingStats = { overridesApplied: 0, overridesRejected: 0 };
  let reader: PartitionReader | null = null;

  function onMessage(message: LogMessage): void {
    const key = message.key ?? '(no key)';
    let result;
    try {
      result = table.applyOverride(key, message.value === null ? null : priceOverrideCodec.decode(message.value));
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      result = { ok: false as const, reason: error.message };
    }
    if (result.ok) stats.overridesApplied += 1;
    else {
      stats.overridesRejected += 1;
      logger.warn('price override refused, the previous price stays in force', { key, reason: result.reason, offset: message.offset });
    }
  }

  return {
    table,
    /** The span priced by the table in effect now (see streams/pricing/price-span.ts). */
    price: (event: SpanEvent): SpanEvent => priceSpan(event, table),
    stats: (): Readonly<PricingStats> => ({ ...stats }),
    /** Resolves once every override published before the call is in the table. */
    async start(): Promise<void> {
      reader = await followWholeTopic(log, topic, onMessage);
    },
    async stop(): Promise<void> {
      await reader?.stop();
    },
  };
}

export type ProcessPricing = ReturnType<typeof createPricing>;
