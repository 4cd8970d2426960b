/**
 * A batch item by item: valid spans accepted with the key's tenant, each refused item named by
 * its index and the field that failed, the good ones beside it kept.
 */
import { describe, expect, it } from 'vitest';
import { spanEventSchema } from '../../schemas/index.js';
import { checkSpan, checkSpanBatch } from './span-batch.js';

const item = { eventId: 'e1', agentId: 'a', runId: 'r1', treeId: 't1', spanId: 's1', kind: 'tool_call', name: 'web_search', startTimeMs: 1, endTimeMs: 2 };

describe('checkSpan', () => {
  it('fills in the tenant of the API key and the schema\'s defaults', () => {
    expect(checkSpan(item, 'acme')).toEqual({ event: spanEventSchema.parse({ ...item, tenantId: 'acme' }) });
    expect(checkSpan({ ...item, tenantId: 'acme' }, 'acme')).toEqual(checkSpan(item, 'acme'));
  });

  it.each([
    ['another tenant', { ...item, tenantId: 'globex' }, { field: 'tenantId', code: 'TENANT_MISMATCH', message: "must be omitted or equal to the API key's tenant" }],
    ['a tenant that is not a string', { ...item, tenantId: 7 }, { field: 'tenantId', code: 'TENANT_MISMATCH' }],
    ['a missing required field', { ...item, eventId: undefined }, { field: 'eventId', code: 'INVALID_SPAN', message: 'required' }],
    ['an unknown kind', { ...item, kind: 'thinking' }, { field: 'kind', code: 'INVALID_SPAN', message: expect.stringContaining('run_start') }],
    ['an end before the start', { ...item, startTimeMs: 5, endTimeMs: 4 }, { field: 'endTimeMs', code: 'INVALID_SPAN', message: 'endTimeMs must not be before startTimeMs' }],
    ['a fractional token count', { ...item, inputTokens: 1.5 }, { field: 'inputTokens', code: 'INVALID_SPAN' }],
    ['a nested edge without its target', { ...item, edge: { kind: 'spawn' } }, { field: 'edge.targetRunId', code: 'INVALID_SPAN', message: 'required' }],
    ['an attribute that is not text', { ...item, attributes: { retries: 3 } }, { field: 'attributes.retries', code: 'INVALID_SPAN' }],
    ['not an object', 'span', { field: '', code: 'INVALID_SPAN', message: 'expected a span object' }],
    ['an array', [item], { field: '', code: 'INVALID_SPAN', message: 'expected a span object' }],
  ])('refuses %s, naming the field', (_case, input, refusal) => {
    expect(checkSpan(input, 'acme')).toEqual(expect.objectContaining(refusal));
  });
});

describe('checkSpanBatch', () => {
  it('keeps the valid items in order and refuses each invalid one by its index and path from the body\'s root', () => {
    const items = [item, { ...item, eventId: 'e2', kind: 'bogus' }, null, { ...item, eventId: 'e4' }, { ...item, eventId: 'e5', tenantId: 'globex' }];
    const { accepted, rejected } = checkSpanBatch(items, 'acme');
    expect(accepted.map((s) => [s.eventId, s.tenantId])).toEqual([['e1', 'acme'], ['e4', 'acme']]);
    expect(rejected.map(({ index, field, code, item: sent }) => ({ index, field, code, sent }))).toEqual([
      { index: 1, field: 'spans.1.kind', code: 'INVALID_SPAN', sent: items[1] },
      { index: 2, field: 'spans.2', code: 'INVALID_SPAN', sent: null },
      { index: 4, field: 'spans.4.tenantId', code: 'TENANT_MISMATCH', sent: items[4] },
    ]);
  });

  it('accepts an empty batch as nothing either way', () => {
    expect(checkSpanBatch([], 'acme')).toEqual({ accepted: [], rejected: [] });
  });
});
