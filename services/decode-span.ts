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
  // The processor's changelog keys a run `tree NUL run`: an id with a NUL could pose as another's key.
  if (event.treeId.includes('\u0000') || event.runId.includes('\u0000')) {
    return { ok: false, code: 'INVALID_ID', reason: `treeId and runId must not contain NUL (U+0000): tree ${JSON.stringify(event.treeId)}, run ${JSON.stringify(event.runId)}` };
  }
  if (message.key !== event.treeId) {
    return { ok: false, code: 'KEY_MISMATCH', reason: `message key '${message.key}' is not the span's treeId '${event.treeId}'` };
  }
  const negative = negativeCount(event);
  if (negative !== null) return { ok: false, code: 'INVALID_FIELD', reason: `${negative}: times, token counts and costs must not be negative` };
  return { ok: true, event: price ? price(event) : event };
}

/**
 * The first count below zero, as "field value", or null. Avro's long is signed, so a producer
 * writing the topic without the client (whose zod schema refuses it) can send one: the cost
 * math would throw on it and ClickHouse's UInt64 columns refuse the whole insert holding it.
 */
function negativeCount(event: SpanEvent): string | null {
  if (event.startTimeMs < 0) return `startTimeMs ${event.startTimeMs}`;
  if (event.endTimeMs < 0) return `endTimeMs ${event.endTimeMs}`;
  if (event.inputTokens < 0) return `inputTokens ${event.inputTokens}`;
  if (event.outputTokens < 0) return `outputTokens ${event.outputTokens}`;
  if (event.cachedTokens < 0) return `cachedTokens ${event.cachedTokens}`;
  if (event.costMicros !== null && event.costMicros < 0) return `costMicros ${event.costMicros}`;
  return null;
}
