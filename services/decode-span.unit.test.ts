import { describe, expect, it } from 'vitest';
import type { LogMessage } from '../log/port.js';
import { spanEventCodec } from '../schemas/index.js';
import { span } from '../test/spans.js';
import { decodeSpanMessage } from './decode-span.js';

const message = (value: Buffer | null, key: string | null): LogMessage => ({ topic: 'spans', partition: 0, offset: '0', key, value, timestampMs: 0, headers: {} });

describe('decodeSpanMessage', () => {
  it('reads a span keyed by its tree', () => {
    const event = span({ kind: 'llm_call', name: 'chat' });
    const decoded = decodeSpanMessage(message(spanEventCodec.encode(event), event.treeId));
    expect(decoded).toEqual({ ok: true, event });
  });

  it('refuses an empty value, a foreign key, and bytes that are no span, each with its reason', () => {
    const event = span({ kind: 'llm_call', name: 'chat' });
    expect(decodeSpanMessage(message(null, 'x'))).toMatchObject({ ok: false, code: 'EMPTY_VALUE' });
    expect(decodeSpanMessage(message(spanEventCodec.encode(event), 'another-tree'))).toMatchObject({ ok: false, code: 'KEY_MISMATCH' });
    expect(decodeSpanMessage(message(Buffer.from('{"garbage":true}'), 'x'))).toMatchObject({ ok: false, code: 'NOT_SINGLE_OBJECT' });
  });

  it('refuses tree and run ids with a NUL, which could pose as another run key in the state changelog', () => {
    for (const ids of [{ treeId: 'tree\u0000run-9' }, { runId: 'run\u0000x' }]) {
      const event = span({ kind: 'llm_call', name: 'chat', ...ids });
      const decoded = decodeSpanMessage(message(spanEventCodec.encode(event), event.treeId));
      expect(decoded).toMatchObject({ ok: false, code: 'INVALID_ID', reason: expect.stringContaining('must not contain NUL') });
    }
  });

  it.each([
    ['startTimeMs', { startTimeMs: -1, endTimeMs: 5 }],
    ['endTimeMs', { endTimeMs: -1 }],
    ['inputTokens', { inputTokens: -5 }],
    ['outputTokens', { outputTokens: -5 }],
    ['cachedTokens', { cachedTokens: -5 }],
    ['costMicros', { costMicros: -5 }],
  ] as const)('refuses a negative %s, which Avro carries but no count can be', (field, fields) => {
    const event = { ...span({ kind: 'llm_call', name: 'chat' }), ...fields };
    const decoded = decodeSpanMessage(message(spanEventCodec.encode(event), event.treeId));
    expect(decoded).toEqual({ ok: false, code: 'INVALID_FIELD', reason: `${field} ${(fields as Record<string, number>)[field]}: times, token counts and costs must not be negative` });
  });

  it('takes zero counts and a zero cost', () => {
    const event = { ...span({ kind: 'llm_call', name: 'chat' }), inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: 0 };
    expect(decodeSpanMessage(message(spanEventCodec.encode(event), event.treeId))).toEqual({ ok: true, event });
  });
});
