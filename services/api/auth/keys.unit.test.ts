import { describe, expect, it } from 'vitest';
import { bearerKey, generateKey, keyIdOf, keyMatches, sha256Hex } from './keys.js';

describe('API keys', () => {
  it('are fbx_<16 hex id>_<43 base64url chars>, with the id inside and only the hash to store', () => {
    const { keyId, key, keySha256 } = generateKey();
    expect(key).toMatch(/^fbx_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(keyIdOf(key)).toBe(keyId);
    expect(keySha256).toBe(sha256Hex(key));
    expect(keySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(keySha256).not.toContain(key.slice(21));
  });

  it('are different every time', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateKey().key));
    expect(keys.size).toBe(100);
  });

  it('match their own hash only', () => {
    const a = generateKey();
    const b = generateKey();
    expect(keyMatches(a.key, a.keySha256)).toBe(true);
    expect(keyMatches(a.key, b.keySha256)).toBe(false);
    expect(keyMatches(`${a.key}x`, a.keySha256)).toBe(false);
    expect(keyMatches(a.key, 'not hex')).toBe(false);
  });

  it.each([
    ['fbx_0123456789abcdef_' + 'a'.repeat(43), '0123456789abcdef'],
    ['fbx_0123456789ABCDEF_' + 'a'.repeat(43), null],
    ['fbx_0123456789abcdef_' + 'a'.repeat(42), null],
    ['sk-0123456789abcdef', null],
    ['', null],
  ])('keyIdOf(%j) is %j: malformed keys are refused before any lookup', (key, id) => {
    expect(keyIdOf(key)).toBe(id);
  });

  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    [undefined, undefined],
  ])('reads the key from Authorization %j', (header, key) => {
    expect(bearerKey(header)).toBe(key);
  });
});
