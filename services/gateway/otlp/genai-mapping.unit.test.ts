import { describe, expect, it } from 'vitest';
import { canonicalHash } from '../../../streams/canonical.js';
import { mapOtlpSpan } from './genai-mapping.js';
import { readExportRequest, type Attributes, type OtlpSpanContext } from './model.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const ROOT = 'b7ad6b7169203331';

function ctx(attributes: Attributes, span: Partial<OtlpSpanContext['span']> = {}, resource: Attributes = { 'service.name': 'svc' }): OtlpSpanContext {
  return {
    resource, scope: { name: 'agent-lib', version: '1' },
    span: { traceId: TRACE, spanId: '00f067aa0ba902b7', parentSpanId: ROOT, name: 'span', kind: 1, startTimeMs: 10, endTimeMs: 20, attributes, statusCode: 0, statusMessage: '', events: [], ...span },
  };
}

describe('GenAI spans to SpanEvents', () => {
  it.each([
    { case: 'chat is a model call with usage, response model first', in: ctx({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024', 'gen_ai.system': 'openai', 'gen_ai.usage.input_tokens': 900, 'gen_ai.usage.output_tokens': 30, 'gen_ai.usage.cache_read.input_tokens': 512 }),
      out: { kind: 'llm_call', model: 'gpt-4o-2024', provider: 'openai', inputTokens: 900, outputTokens: 30, cachedTokens: 512 } },
    { case: 'provider.name wins over the older gen_ai.system', in: ctx({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': 'azure', 'gen_ai.system': 'openai' }), out: { kind: 'llm_call', provider: 'azure' } },
    { case: 'a tool call is named by its tool and hashed by canonical arguments', in: ctx({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search', 'gen_ai.tool.call.arguments': '{ "b": 1, "a": 2 }' }),
      out: { kind: 'tool_call', name: 'web_search', argsHash: canonicalHash({ a: 2, b: 1 }), args: '{ "b": 1, "a": 2 }', outputHash: null } },
    { case: 'a failed tool takes its error from the status message', in: ctx({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 't' }, { statusCode: 2, statusMessage: 'HTTP 503' }), out: { status: 'error', error: 'HTTP 503' } },
    { case: '... else from the exception event', in: ctx({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 't' }, { statusCode: 2, events: [{ name: 'exception', attributes: { 'exception.type': 'Error', 'exception.message': 'boom' } }] }), out: { status: 'error', error: 'Error: boom' } },
    { case: 'the root invoke_agent span ends the run', in: ctx({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'researcher', 'gen_ai.agent.name': 'Researcher' }, { parentSpanId: null, statusCode: 1 }), out: { kind: 'run_end', name: 'Researcher', agentId: 'researcher', status: 'ok' } },
    { case: 'a nested invoke_agent is kept as custom', in: ctx({ 'gen_ai.operation.name': 'invoke_agent' }), out: { kind: 'custom', attributes: expect.objectContaining({ 'gen_ai.operation.name': 'invoke_agent' }) } },
    { case: 'a span without GenAI attributes is custom, attributes kept as text', in: ctx({ 'http.method': 'GET', 'http.status_code': 200 }, { name: 'GET /x' }), out: { kind: 'custom', name: 'GET /x', attributes: { 'service.name': 'svc', 'otel.scope.name': 'agent-lib', 'http.method': 'GET', 'http.status_code': '200' } } },
    { case: 'run and tree are the trace; agent from service.name; ids from the span', in: ctx({}), out: { runId: TRACE, treeId: TRACE, agentId: 'svc', eventId: `${TRACE}:00f067aa0ba902b7`, parentSpanId: ROOT, parentRunId: null } },
    { case: 'fusebox.* attributes name run, tree and parent run', in: ctx({ 'fusebox.run.id': 'r2', 'fusebox.parent_run.id': 'r1' }, {}, { 'fusebox.tree.id': 't1', 'service.name': 'svc' }), out: { runId: 'r2', treeId: 't1', parentRunId: 'r1' } },
    { case: 'conversation and user attribute the span', in: ctx({ 'gen_ai.conversation.id': 'c1', 'user.id': 'u1' }), out: { sessionId: 'c1', userId: 'u1' } },
    { case: 'a negative or fractional token count counts as not reported', in: ctx({ 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': -5, 'gen_ai.usage.output_tokens': 1.5 }), out: { inputTokens: 0, outputTokens: 0 } },
  ])('$case', ({ in: input, out }) => {
    expect(mapOtlpSpan(input)).toMatchObject(out);
  });
});

describe('reading OTLP requests', () => {
  const span = { traceId: TRACE, spanId: '00f067aa0ba902b7', name: 's', startTimeUnixNano: '1700000000123456789', endTimeUnixNano: 1700000000200000000, status: { code: 'STATUS_CODE_ERROR' } };
  it('reads JSON (hex ids, nanos as strings or numbers, enum names) and refuses a bad span by its path, keeping the others', () => {
    const read = readExportRequest({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ scope: { name: 'l' }, spans: [span, { ...span, traceId: 'xyz' }, { ...span, startTimeUnixNano: undefined }] }] }] }, 'hex');
    expect(read[0]).toMatchObject({ ok: true, context: { resource: { 'service.name': 'svc' }, span: { startTimeMs: 1700000000123, endTimeMs: 1700000000200, statusCode: 2 } } });
    expect(read[1]).toMatchObject({ ok: false, field: 'resourceSpans.0.scopeSpans.0.spans.1.traceId' });
    expect(read[2]).toMatchObject({ ok: false, field: 'resourceSpans.0.scopeSpans.0.spans.2.startTimeUnixNano', message: expect.stringContaining('required') });
  });
  it('keeps an attribute named __proto__ as data, never as the prototype of the attributes', () => {
    const attributes = [{ key: '__proto__', value: { kvlistValue: { values: [{ key: 'polluted', value: { boolValue: true } }] } } }, { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }];
    const read = readExportRequest({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, attributes }] }] }] }, 'hex');
    expect(read[0]!.ok).toBe(true);
    const parsed = (read[0] as { context: OtlpSpanContext }).context.span.attributes;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect((parsed as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toEqual({ polluted: true });
    expect(parsed['gen_ai.operation.name']).toBe('chat');
  });
  it('reads base64 ids (protobuf) as hex', () => {
    const read = readExportRequest({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, traceId: Buffer.from(TRACE, 'hex').toString('base64'), spanId: Buffer.from('00f067aa0ba902b7', 'hex').toString('base64') }] }] }] }, 'base64');
    expect(read[0]).toMatchObject({ ok: true, context: { span: { traceId: TRACE, spanId: '00f067aa0ba902b7' } } });
  });
});
