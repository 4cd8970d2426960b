import { describe, expect, it } from 'vitest';
import { span } from '../test/spans.js';
import { redactParams, redactSpan, redactText } from './redact.js';

const p = (raw: Record<string, string>) => redactParams.parse(raw);

describe('redaction', () => {
  it.each([
    ['email', 'mail jane.doe@example.com now', 'mail [REDACTED:email] now'],
    ['card', 'card 4111 1111 1111 1111 ok', 'card [REDACTED:card] ok'],
    ['card', 'order 1234 5678 9012 3456 is not a card (Luhn)', 'order 1234 5678 9012 3456 is not a card (Luhn)'],
    ['api_key', 'key sk-proj-abcdefghijklmnop1234 and AKIAABCDEFGHIJKLMNOP', 'key [REDACTED:api_key] and [REDACTED:api_key]'],
    ['regex:\\bEMP-\\d+', 'employee EMP-1234', 'employee [REDACTED:custom]'],
  ])('%s', (pattern, text, expected) => {
    expect(redactText(text, p({ patterns: pattern }))).toBe(expected);
  });

  it('masks listed fields whole when no pattern is given, attributes included', () => {
    const event = span({ kind: 'tool_call', name: 'crm.lookup', args: '{"ssn":"123"}', output: 'fine', attributes: { 'user.note': 'secret', keep: 'me' } });
    const out = redactSpan(event, [p({ fields: 'args,attributes.user.note' })]);
    expect([out.args, out.output, out.attributes]).toEqual(['[REDACTED]', 'fine', { 'user.note': '[REDACTED]', keep: 'me' }]);
    expect(event.args).toBe('{"ssn":"123"}');
  });

  it('refuses unknown fields and patterns, naming them', () => {
    expect(redactParams.safeParse({ fields: 'password' }).error?.issues[0]?.message).toMatch(/fields are args, output, error/);
    expect(redactParams.safeParse({ patterns: 'ssn' }).error?.issues[0]?.message).toMatch(/unknown pattern 'ssn'/);
    expect(redactParams.safeParse({ patterns: 'regex:(' }).error?.issues[0]?.message).toMatch(/invalid regex/);
  });
});
