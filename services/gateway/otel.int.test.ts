/**
 * An agent instrumented with nothing but the OpenTelemetry JS SDK and its OTLP exporters (JSON
 * and protobuf) sends GenAI spans of a loop (the same tool, the same arguments, the same error)
 * to the gateway; the real processor trips the run's breaker, and the HTTP-only agent sees it on
 * the SSE control stream and at the breaker endpoint.
 */
import { context, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { spanEventCodec } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';
import { followControlStream, gatewayHarness, type GatewayHarness } from '../../test/gateway.js';
import { eventually, freshKafka, readAll } from '../../test/kafka.js';
import { freshStore } from '../../test/store.js';
import { silentLogger } from '../logger.js';
import { createProcessor, type Processor } from '../processor/processor.js';

let kafka: { log: EventLog; topics: Topics; prefix: string };
let store: Store;
let gw: GatewayHarness;
let processor: Processor;
let address: string;
let agentKey: string;

beforeAll(async () => {
  kafka = await freshKafka(3);
  store = await freshStore();
  gw = await gatewayHarness({ kafka, store });
  address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  agentKey = await gw.key('acme', 'agent');
  processor = createProcessor({ log: kafka.log, topics: kafka.topics, logger: silentLogger, groupId: `${kafka.prefix}-processor` });
  await processor.start();
});

afterAll(async () => {
  await processor?.stop();
  await gw?.close();
  await kafka?.log.close();
  await store?.close();
});

/** Control events for `tree` read from the gateway's SSE stream, as an HTTP-only agent would. */
async function followStream(tree: string) {
  const stream = await followControlStream(address, agentKey, `?tree=${tree}`);
  expect(stream.response.status).toBe(200);
  return { events: stream.control, close: stream.close };
}

/** One turn of the agent: ask the model, then call web_search with the same arguments, which fails the same way. */
function turn(tracer: Tracer, parent: Span, i: number): void {
  const ctx = trace.setSpan(context.active(), parent);
  const chat = tracer.startSpan('chat gpt-4o', { attributes: {
    'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.usage.input_tokens': 900 + i, 'gen_ai.usage.output_tokens': 30, 'gen_ai.usage.cache_read.input_tokens': 512, 'gen_ai.conversation.id': 'conv-1',
  } }, ctx);
  chat.end();
  const tool = tracer.startSpan('execute_tool web_search', { attributes: {
    'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search',
    // Same arguments every time, keys in a different order: the canonical hash is the same.
    'gen_ai.tool.call.arguments': i % 2 === 0 ? '{"q":"fusebox pricing","page":1}' : '{ "page": 1, "q": "fusebox pricing" }',
  } }, ctx);
  tool.recordException(new Error('HTTP 503 Service Unavailable'));
  tool.setStatus({ code: SpanStatusCode.ERROR, message: 'HTTP 503 Service Unavailable' });
  tool.end();
}

describe.each([
  ['OTLP/JSON', () => new JsonExporter({ url: `${address}/v1/traces`, headers: { authorization: `Bearer ${agentKey}` } })],
  ['OTLP/protobuf', () => new ProtobufExporter({ url: `${address}/v1/traces`, headers: { authorization: `Bearer ${agentKey}` } })],
])('an OpenTelemetry-instrumented agent over %s', (_encoding, exporter) => {
  it('is tripped by the loop detector at its 3rd identical failing tool call, seen on the SSE stream and the breaker endpoint', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'researcher' }),
      spanProcessors: [new BatchSpanProcessor(exporter(), { scheduledDelayMillis: 20 })],
    });
    const tracer = provider.getTracer('looping-agent', '1.0.0');
    const root = tracer.startSpan('invoke_agent researcher', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'researcher', 'gen_ai.agent.name': 'Researcher' } });
    const runId = root.spanContext().traceId; // one trace is one run (and its tree)
    const stream = await followStream(runId);
    try {
      for (let i = 0; i < 3; i++) turn(tracer, root, i);
      await provider.forceFlush();

      const [trip] = await eventually('the trip on the SSE stream', () => (stream.events.length > 0 ? stream.events : undefined), 60_000);
      expect(trip).toMatchObject({ tenantId: 'acme', scope: 'run', target: runId, treeId: runId, action: 'trip', reason: { detector: 'loop', threshold: 3, observed: 3 } });
      const state = await gw.call(agentKey, { method: 'GET', url: `/v1/runs/${runId}/breaker?tree=${runId}` });
      expect([state.statusCode, state.json()]).toEqual([200, { state: 'open', event: trip }]);

      root.setStatus({ code: SpanStatusCode.ERROR, message: 'halted by Fusebox' });
      root.end();
      await provider.forceFlush();
      const spans = await eventually('the run\'s 7 spans on the topic', async () => {
        const all = (await readAll(kafka.log, kafka.topics.spans)).map((m) => spanEventCodec.decode(m.value!)).filter((e) => e.runId === runId);
        return all.length >= 7 ? all : undefined;
      });
      expect(spans.map((s) => s.kind).sort()).toEqual(['llm_call', 'llm_call', 'llm_call', 'run_end', 'tool_call', 'tool_call', 'tool_call']);
      const llm = spans.find((s) => s.kind === 'llm_call')!;
      expect(llm).toMatchObject({ tenantId: 'acme', agentId: 'researcher', model: 'gpt-4o-2024-08-06', provider: 'openai', outputTokens: 30, cachedTokens: 512, sessionId: 'conv-1', parentSpanId: root.spanContext().spanId });
      expect(new Set(spans.filter((s) => s.kind === 'tool_call').map((s) => s.argsHash)).size).toBe(1);
    } finally {
      await stream.close();
      await provider.shutdown();
    }
  });
});
