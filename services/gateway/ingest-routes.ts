/**
 * `POST /v1/spans` (a JSON batch of SpanEvents) and `POST /v1/traces` (OTLP/HTTP, JSON or
 * protobuf). Both accept what is valid and dead-letter what is not, item by item.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SpanEvent } from '../../schemas/index.js';
import type { GatewayDeps } from './app.js';
import { createCoalescingSender } from './coalescing-sender.js';
import { GatewayError } from './errors.js';
import { ingest, type IngestDeps, type Refused } from './ingest.js';
import { mapOtlpSpan } from './otlp/genai-mapping.js';
import { OtlpShapeError, readExportRequest, type IdEncoding } from './otlp/model.js';
import { decodeTraceRequest, encodeTraceResponse, PROTOBUF, ProtobufDecodeError } from './otlp/protobuf.js';
import { checkSpan, checkSpanBatch } from './span-batch.js';

export const ingestRoutes: FastifyPluginAsync<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const ingestDeps: IngestDeps = {
    spans: createCoalescingSender(deps.producer, deps.topics.spans),
    deadLetters: createCoalescingSender(deps.producer, deps.topics.deadLetter),
    topics: deps.topics, backlog: deps.backlog, metrics: deps.metrics,
    remember: (tenantId, event) => deps.recent.remember(tenantId, event),
  };
  // Protobuf bodies arrive as bytes, under the same body limit as JSON.
  app.addContentTypeParser(PROTOBUF, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/v1/spans', { onRequest: deps.guard('spans:ingest') }, async (request, reply) => {
    if (request.headers['content-type']?.startsWith(PROTOBUF)) throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'body: /v1/spans takes application/json; OTLP protobuf goes to /v1/traces', { field: 'body' });
    const body = request.body as { spans?: unknown } | null;
    if (body === null || typeof body !== 'object' || !Array.isArray(body.spans)) {
      throw new GatewayError('INVALID_REQUEST', 'spans: required, an array of spans ({ "spans": [ ... ] })', { field: 'spans' });
    }
    const { tenantId } = deps.caller(request);
    const { accepted, rejected } = checkSpanBatch(body.spans, tenantId);
    await ingest(ingestDeps, { tenantId, requestId: String(request.id), source: 'spans' }, accepted, rejected);
    reply.code(accepted.length === 0 && rejected.length > 0 ? 400 : 200);
    return { accepted: accepted.length, rejected: rejected.map(({ index, field, message }) => ({ index, field, message })) };
  });

  app.post('/v1/traces', { onRequest: deps.guard('spans:ingest') }, async (request, reply) => {
    const protobuf = Buffer.isBuffer(request.body);
    const { tenantId } = deps.caller(request);
    const { accepted, refused } = readTraces(request, tenantId, protobuf ? 'base64' : 'hex');
    await ingest(ingestDeps, { tenantId, requestId: String(request.id), source: 'otlp' }, accepted, refused);
    return otlpAnswer(reply, protobuf, refused);
  });
};

/** The request's spans mapped to SpanEvents; a span that cannot be read or mapped is refused with its path. */
function readTraces(request: FastifyRequest, tenantId: string, ids: IdEncoding): { accepted: SpanEvent[]; refused: Refused[] } {
  let read;
  try {
    read = readExportRequest(Buffer.isBuffer(request.body) ? decodeTraceRequest(request.body) : request.body, ids);
  } catch (error) {
    if (error instanceof OtlpShapeError || error instanceof ProtobufDecodeError) throw new GatewayError('INVALID_REQUEST', error.message, { field: 'body', cause: error });
    throw error;
  }
  const accepted: SpanEvent[] = [];
  const refused: Refused[] = [];
  read.forEach((entry, index) => {
    if (!entry.ok) {
      refused.push({ index, field: entry.field, message: entry.message, code: 'INVALID_OTLP_SPAN', item: entry.raw });
      return;
    }
    const draft = mapOtlpSpan(entry.context);
    const checked = checkSpan(draft, tenantId);
    if ('event' in checked) accepted.push(checked.event);
    else refused.push({ index, field: `${entry.path} (as SpanEvent ${checked.field})`, message: checked.message, code: 'INVALID_SPAN', item: draft });
  });
  return { accepted, refused };
}

/** The standard OTLP answer: 200 with a partial success naming what was refused, in the request's encoding. */
function otlpAnswer(reply: FastifyReply, protobuf: boolean, refused: Refused[]) {
  const message = refused.slice(0, 5).map((r) => `${r.field}: ${r.message}`).join('; ') + (refused.length > 5 ? `; and ${refused.length - 5} more` : '');
  if (protobuf) return reply.type(PROTOBUF).send(encodeTraceResponse(refused.length, message));
  return refused.length === 0 ? {} : { partialSuccess: { rejectedSpans: String(refused.length), errorMessage: message } };
}
