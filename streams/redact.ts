/**
 * Redaction: what a `redact` policy masks in a span before anything reaches ClickHouse.
 * Pure: a span in, a masked span out. Applied by the sink, so the spans topic (the source of
 * truth, short retention, access-controlled) keeps the original while the queryable store
 * never sees it.
 *
 * Params: `fields` (comma-separated: args, output, error, name of an attribute as
 * `attributes.<key>`; default args,output,error) and `patterns` (email, card, api_key, or
 * `regex:<expression>`). With no patterns the listed fields are masked whole.
 */
import { z } from 'zod';
import type { SpanEvent } from '../schemas/index.js';

const TEXT_FIELDS = ['args', 'output', 'error'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

const BUILTIN: Record<string, RegExp> = {
  email: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g,
  // 13-19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check passes.
  card: /\b\d(?:[ -]?\d){12,18}\b/g,
  api_key: /\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36}\b|\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
};

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

export const redactParams = z.object({
  fields: z.string().default('args,output,error').transform(list).refine(
    (fields) => fields.every((f) => (TEXT_FIELDS as readonly string[]).includes(f) || /^attributes\..+/.test(f)),
    { message: `fields are ${TEXT_FIELDS.join(', ')} or attributes.<key>` },
  ),
  patterns: z.string().default('').transform(list).transform((names, ctx) => {
    const compiled: Array<{ name: string; regex: RegExp }> = [];
    for (const name of names) {
      if (name.startsWith('regex:')) {
        try {
          compiled.push({ name: 'custom', regex: new RegExp(name.slice(6), 'g') });
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `invalid regex '${name.slice(6)}': ${(error as Error).message}` });
        }
      } else if (BUILTIN[name]) {
        compiled.push({ name, regex: BUILTIN[name] });
      } else {
        ctx.addIssue({ code: 'custom', message: `unknown pattern '${name}' (email, card, api_key or regex:<expression>)` });
      }
    }
    return compiled;
  }),
});
export type RedactParams = z.output<typeof redactParams>;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

export function redactText(text: string, params: RedactParams): string {
  if (params.patterns.length === 0) return '[REDACTED]';
  let out = text;
  for (const { name, regex } of params.patterns) {
    out = out.replace(regex, (match) => {
      if (name === 'card' && !luhn(match.replace(/[ -]/g, ''))) return match;
      return `[REDACTED:${name}]`;
    });
  }
  return out;
}

/** The span with every redaction applied in order; the input is not changed. */
export function redactSpan(event: SpanEvent, policies: readonly RedactParams[]): SpanEvent {
  if (policies.length === 0) return event;
  const out: SpanEvent = { ...event, attributes: { ...event.attributes } };
  for (const params of policies) {
    for (const field of params.fields) {
      if (field.startsWith('attributes.')) {
        const key = field.slice('attributes.'.length);
        const value = out.attributes[key];
        if (value !== undefined) out.attributes[key] = redactText(value, params);
      } else {
        const value = out[field as TextField];
        if (value !== null) out[field as TextField] = redactText(value, params);
      }
    }
  }
  return out;
}
