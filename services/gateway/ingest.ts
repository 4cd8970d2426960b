/**
 * What both ingest routes do once a request is read: admit it under the backlog bound, produce
 * the accepted spans to the spans topic (Avro, keyed by tree id, exactly as the client does, so
 * a tree's spans share a partition whichever way they came) and the refused ones to the
 * dead-letter topic with their reasons, then release the backlog. It answers only once the log
 * has acknowledged both: an accepted span is a durable span.
 */
import type { OutgoingMessage } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { spanEventCodec, type SpanEvent } from '../../schemas/index.js';
import { deadLetterForItem } from '../dead-letter.js';
import type { Metrics } from '../observability/index.js';
import type { CoalescingSender } from './coalescing-sender.js';
import { GatewayError } from './errors.js';
import type { Backlog } from './limits.js';

export interface Refused {
  index: number;
  field: string;
  message: string;
  code: string;
  /** What was sent, for the dead letter (JSON of the item, or of the OTLP span as read). */
  item: unknown;
}

export interface IngestDeps {
  spans: CoalescingSender;
  deadLetters: CoalescingSender;
  topics: Topics;
  backlog: Backlog;
  metrics: Metrics;
  /** Remembers which tenant sent a run or tree, so its breaker can be read before the store has it. */
  remember(tenantId: string, event: SpanEvent): void;
}

export async function ingest(deps: IngestDeps, request: { tenantId: string; requestId: string; source: 'spans' | 'otlp' }, accepted: SpanEvent[], refused: Refused[]): Promise<void> {
  const total = accepted.length + refused.length;
  if (total === 0) return;
  if (!deps.backlog.admit(total)) {
    throw new GatewayError('OVERLOADED', `the gateway has ${deps.backlog.pending} spans waiting for the log, at its bound; retry later`, { retryAfterSeconds: 1 });
  }
  try {
    const spans: OutgoingMessage[] = accepted.map((event) => ({ key: event.treeId, value: spanEventCodec.encode(event) }));
    const letters = refused.map((r) => deadLetterForItem('gateway', {
      topic: deps.topics.spans, tenantId: request.tenantId, requestId: request.requestId, index: r.index,
      code: r.code, reason: `${r.field}: ${r.message}`, payload: Buffer.from(JSON.stringify(r.item) ?? 'null'),
    }));
    try {
      await Promise.all([deps.spans.send(spans), deps.deadLetters.send(letters)]);
    } catch (error) {
      throw new GatewayError('LOG_UNAVAILABLE', `the event log did not take the spans: ${(error as Error).message}; retry`, { retryAfterSeconds: 1, cause: error });
    }
    for (const event of accepted) deps.remember(request.tenantId, event);
    deps.metrics.eventsIn.inc({ kind: request.source === 'otlp' ? 'otlp_span' : 'span' }, total);
    if (spans.length > 0) deps.metrics.eventsOut.inc({ topic: deps.topics.spans }, spans.length);
    if (letters.length > 0) deps.metrics.eventsOut.inc({ topic: deps.topics.deadLetter }, letters.length);
    for (const r of refused) deps.metrics.deadLetters.inc({ code: r.code });
  } finally {
    deps.backlog.release(total);
  }
}
