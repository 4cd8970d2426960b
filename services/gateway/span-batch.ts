/**
 * A `POST /v1/spans` batch, item by item: each span is validated on its own, so one bad item
 * never costs the good ones beside it. Pure: the tenant is an input (from the API key).
 */
import { z } from 'zod';
import { compileFastParser, NOT_ACCEPTED } from '../../schemas/fast-parse.js';
import { spanEventSchema, type SpanEvent } from '../../schemas/index.js';

export interface RejectedItem {
  index: number;
  /** Where it failed, from the body's root: `spans.3.kind`. */
  field: string;
  message: string;
  /** A stable code for the dead letter: INVALID_SPAN or TENANT_MISMATCH. */
  code: 'INVALID_SPAN' | 'TENANT_MISMATCH';
  /** What was sent, as sent, for the dead-letter record. */
  item: unknown;
}

export interface CheckedBatch {
  accepted: SpanEvent[];
  rejected: RejectedItem[];
}

export const spanBatchSchema = z.object({ spans: z.array(z.unknown()) });

/** Validates every item; the tenant of an accepted span is always `tenantId`. */
export function checkSpanBatch(items: readonly unknown[], tenantId: string): CheckedBatch {
  const accepted: SpanEvent[] = [];
  const rejected: RejectedItem[] = [];
  items.forEach((item, index) => {
    const result = checkSpan(item, tenantId);
    if ('event' in result) accepted.push(result.event);
    else rejected.push({ index, item, ...result, field: `spans.${index}${result.field ? `.${result.field}` : ''}` });
  });
  return { accepted, rejected };
}

type SpanCheck = { event: SpanEvent } | { field: string; message: string; code: RejectedItem['code'] };

/** Accepts what zod accepts (or leaves it to zod), at a fraction of zod's cost per valid span. */
const fastSpan = compileFastParser(spanEventSchema);

/**
 * One span. Its tenant may be omitted (the key's is filled in) or equal to the key's; any
 * other is refused, never rewritten: a client naming another tenant is confused or probing,
 * and silently moving its spans would hide either. zod runs only for what the fast parser does
 * not accept: it has the final word, and the message.
 */
export function checkSpan(item: unknown, tenantId: string): SpanCheck {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return { field: '', message: 'expected a span object', code: 'INVALID_SPAN' };
  const claimed = (item as { tenantId?: unknown }).tenantId;
  if (claimed !== undefined && claimed !== tenantId) {
    return { field: 'tenantId', message: "must be omitted or equal to the API key's tenant", code: 'TENANT_MISMATCH' };
  }
  const fast = fastSpan(item, { tenantId });
  if (fast !== NOT_ACCEPTED) return { event: fast };
  const parsed = spanEventSchema.safeParse({ ...(item as object), tenantId });
  if (parsed.success) return { event: parsed.data };
  const issue = parsed.error.issues[0]!;
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
  return { field: issue.path.map(String).join('.'), message, code: 'INVALID_SPAN' };
}
