import type { LogMessage } from '../log/port.js';
import { SchemaError, spanEventCodec, type SpanEvent } from '../schemas/index.js';

export type DecodedSpan = { ok: true; event: SpanEvent } | { ok: false; code: string; reason: string };

/**
 * A span from the spans topic, or why it is unusable. The key must be the tree id: a span
 * keyed otherwise sits in the wrong partition, where another processor instance holds its
 * tree's state, so counting it would split one tree's ledger in two.
 *
 * `price` (services/pricing.ts) fills in the cost of a model call the agent did not price:
 * applied here, where the processor and the sink both read spans, so both see the same cost.
 */
export function decodeSpanMessage(message: LogMessage, price?: (event: SpanEvent) => SpanEvent): DecodedSpan {
  if (!message.value || message.value.length === 0) return { ok: false, code: 'EMPTY_VALUE', reason: 'message has no value' };
  let event: SpanEvent;
  try {
    event = spanEventCodec.decode(message.value);
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, code: error.code, reason: error.message };
    throw error;
  }
  if (message.key !== event.treeId) {
    return { ok: false, code: 'KEY_MISMATCH', reason: `message key '${message.key}' is not the span's treeId '${event.treeId}'` };
  }
  return { ok: true, event: price ? price(event) : event };
}
