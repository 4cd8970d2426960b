/**
 * Pricing at ingest: a model call the agent sent without a cost is priced from the table
 * version in effect at the span's start time (when the call was made, and the time cost
 * reports bucket by). The processor and the sink both call this on every decoded span, with
 * tables built from the same list and the same override topic, so the cost the detectors
 * count is the cost ClickHouse stores.
 *
 * How the cost was obtained is written into the span's attributes:
 *   fusebox.cost.source  agent | priced | unpriced
 *   fusebox.price.version  the version that priced it (priced only)
 *   fusebox.cost.unpriced  why there is no cost (unpriced only): no_model, unknown_model, ...
 * An unpriced span keeps costMicros null (never a silent zero): reports count it apart.
 */
import type { SpanEvent } from '../../schemas/index.js';
import { costMicros } from './cost.js';
import type { PriceTable } from './price-table.js';

export const COST_SOURCE_ATTRIBUTE = 'fusebox.cost.source';
export const PRICE_VERSION_ATTRIBUTE = 'fusebox.price.version';
export const UNPRICED_REASON_ATTRIBUTE = 'fusebox.cost.unpriced';

export type CostSource = 'agent' | 'priced' | 'unpriced';

/** The attributes pricing owns: an agent cannot forge them (they are set or removed here). */
const OWNED = [COST_SOURCE_ATTRIBUTE, PRICE_VERSION_ATTRIBUTE, UNPRICED_REASON_ATTRIBUTE];

export interface Pricing {
  costMicros: number | null;
  source: CostSource;
  version: string | null;
  unpricedReason: string | null;
}

/** What a span costs by the table; only llm_call spans are priced, and never over an agent's cost. */
export function pricingOf(event: Pick<SpanEvent, 'kind' | 'tenantId' | 'provider' | 'model' | 'startTimeMs' | 'inputTokens' | 'outputTokens' | 'cachedTokens'>, agentCost: number | null, table: PriceTable): Pricing | null {
  if (event.kind !== 'llm_call') return null;
  if (agentCost !== null) return { costMicros: agentCost, source: 'agent', version: null, unpricedReason: null };
  const found = table.lookup(event.tenantId, event.provider, event.model, event.startTimeMs);
  if (!found.ok) return { costMicros: null, source: 'unpriced', version: null, unpricedReason: found.reason };
  const cost = costMicros(event, found.price);
  if (!cost.ok) return { costMicros: null, source: 'unpriced', version: found.price.version, unpricedReason: cost.reason };
  return { costMicros: cost.costMicros, source: 'priced', version: found.price.version, unpricedReason: null };
}

/** The span as the processor and the sink see it: priced when it can be, and saying how. */
export function priceSpan(event: SpanEvent, table: PriceTable): SpanEvent {
  const pricing = pricingOf(event, event.costMicros, table);
  if (pricing === null) return event;
  return { ...event, costMicros: pricing.costMicros, attributes: withPricing(event.attributes, pricing) };
}

export function withPricing(attributes: Readonly<Record<string, string>>, pricing: Pricing): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) if (!OWNED.includes(key)) out[key] = value;
  out[COST_SOURCE_ATTRIBUTE] = pricing.source;
  if (pricing.version !== null) out[PRICE_VERSION_ATTRIBUTE] = pricing.version;
  if (pricing.unpricedReason !== null) out[UNPRICED_REASON_ATTRIBUTE] = pricing.unpricedReason;
  return out;
}
