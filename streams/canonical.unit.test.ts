import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson } from './canonical.js';

describe('canonical arguments', () => {
  it('ignores key order and whitespace at every depth', () => {
    const a = JSON.parse('{ "q": "paris", "opts": { "limit": 5, "lang": "fr" } }');
    const b = JSON.parse('{"opts":{"lang":"fr","limit":5},"q":"paris"}');
    expect(canonicalJson(a)).toBe('{"opts":{"lang":"fr","limit":5},"q":"paris"}');
    expect(canonicalHash(a)).toBe(canonicalHash(b));
  });

  it('tells different values apart, including array order and types', () => {
    expect(canonicalHash({ q: 'paris' })).not.toBe(canonicalHash({ q: 'london' }));
    expect(canonicalHash([1, 2])).not.toBe(canonicalHash([2, 1]));
    expect(canonicalHash({ n: 1 })).not.toBe(canonicalHash({ n: '1' }));
  });

  it('drops undefined members like JSON does and hashes to 32 hex chars', () => {
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
    expect(canonicalHash(undefined)).toMatch(/^[0-9a-f]{32}$/);
  });
});

/** The first, straightforward version: the rewrite must give the same text, so hashes do not change across client versions. */
function referenceJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(referenceJson).join(',')}]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return referenceJson((value as { toJSON(): unknown }).toJSON());
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${referenceJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

describe('canonicalJson against the reference', () => {
  const manyKeys = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7919) % 40}`, i]));
  const cases: unknown[] = [
    {}, [], '', 0, -0, 1.5e300, NaN, Infinity, true, null, undefined, 'tab\t"quote"\\ \u2028 🚀',
    { b: 1, a: 2, A: 3, _: 4, '10': 5, '9': 6, é: 7, 'e\u0301': 8, '': 9, '"': 10 },
    { z: [3, undefined, () => 1, { y: 1, x: [{ d: 1, c: 2 }] }], a: { toJSON: () => ({ n: 2, m: 1 }) } },
    { when: new Date(0), f: () => 1, s: Symbol('s'), u: undefined, nested: { u: undefined } },
    manyKeys,
    { only: undefined },
  ];
  it.each(cases.map((value, i) => [i, value]))('case %i gives the same text', (_, value) => {
    expect(canonicalJson(value)).toBe(referenceJson(value));
  });

  it('gives the same text for random nested values', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const keyChars = ['a', 'b', 'B', 'é', '0', '1', '_', 'z', '"'];
    const build = (depth: number): unknown => {
      const pick = random();
      if (depth > 3 || pick < 0.3) return [1, 'x', null, undefined, true, 2.5][Math.floor(random() * 6)];
      if (pick < 0.6) return Array.from({ length: Math.floor(random() * 5) }, () => build(depth + 1));
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 20); i > 0; i--) out[keyChars[Math.floor(random() * keyChars.length)]! + keyChars[Math.floor(random() * keyChars.length)]!] = build(depth + 1);
      return out;
    };
    for (let i = 0; i < 2_000; i++) {
      const value = build(0);
      expect(canonicalJson(value)).toBe(referenceJson(value));
    }
  });
});
