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
