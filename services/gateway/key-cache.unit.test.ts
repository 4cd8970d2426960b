/**
 * The API-key cache: a record is trusted for the TTL and read again after it; unknown keys and
 * failed reads are never cached; concurrent misses share one read; the size is bounded.
 */
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../../storage/tables/api-keys.js';
import { createKeyCache } from './key-cache.js';

function record(keyId: string, revokedAtMs: number | null = null): ApiKeyRecord {
  return { keyId, tenantId: 'acme', role: 'agent', name: keyId, keySha256: '00', createdAtMs: 0, createdBy: 'test', revokedAtMs };
}

/** A store of records with a read counter, and a clock the test moves. */
function given(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const stored = new Map<string, ApiKeyRecord>();
  const reads: string[] = [];
  let failing = false;
  let nowMs = 1_000;
  const cache = createKeyCache(async (keyId) => {
    reads.push(keyId);
    if (failing) throw new Error('store down');
    return stored.get(keyId) ?? null;
  }, { ttlMs: options.ttlMs ?? 5_000, maxEntries: options.maxEntries ?? 100, clock: () => nowMs });
  return {
    cache, stored, reads,
    fail(value: boolean) { failing = value; },
    advance(ms: number) { nowMs += ms; },
  };
}

describe('the API-key cache', () => {
  it('reads a key once per TTL, and sees its revocation on the first read after the TTL', async () => {
    const g = given({ ttlMs: 5_000 });
    g.stored.set('k1', record('k1'));
    expect((await g.cache.find('k1'))?.revokedAtMs).toBeNull();
    g.stored.set('k1', record('k1', 1_500)); // revoked in the store
    g.advance(4_999);
    expect((await g.cache.find('k1'))?.revokedAtMs).toBeNull(); // within the TTL: the documented window
    g.advance(1);
    expect((await g.cache.find('k1'))?.revokedAtMs).toBe(1_500);
    g.advance(60_000);
    expect((await g.cache.find('k1'))?.revokedAtMs).toBe(1_500); // refused ever after
    expect(g.reads).toEqual(['k1', 'k1', 'k1']);
  });

  it('reads again when the clock steps back, rather than trusting an entry longer', async () => {
    const g = given();
    g.stored.set('k1', record('k1'));
    await g.cache.find('k1');
    g.advance(-1);
    await g.cache.find('k1');
    expect(g.reads).toEqual(['k1', 'k1']);
  });

  it('with a TTL of 0 reads the store on every call', async () => {
    const g = given({ ttlMs: 0 });
    g.stored.set('k1', record('k1'));
    await g.cache.find('k1');
    await g.cache.find('k1');
    expect([g.reads.length, g.cache.size]).toEqual([2, 0]);
  });

  it('does not cache unknown keys or failed reads', async () => {
    const g = given();
    expect(await g.cache.find('nobody')).toBeNull();
    g.stored.set('nobody', record('nobody')); // created since
    expect(await g.cache.find('nobody')).not.toBeNull();
    g.stored.set('k2', record('k2'));
    g.fail(true);
    await expect(g.cache.find('k2')).rejects.toThrow('store down');
    g.fail(false);
    expect(await g.cache.find('k2')).not.toBeNull();
    expect(g.reads).toEqual(['nobody', 'nobody', 'k2', 'k2']);
  });

  it('shares one read among concurrent requests for the same key', async () => {
    const g = given();
    g.stored.set('k1', record('k1'));
    const found = await Promise.all(Array.from({ length: 10 }, () => g.cache.find('k1')));
    expect(found.every((r) => r?.keyId === 'k1')).toBe(true);
    expect(g.reads).toEqual(['k1']);
  });

  it('keeps at most maxEntries keys, evicting the one read longest ago', async () => {
    const g = given({ maxEntries: 2 });
    for (const id of ['k1', 'k2', 'k3']) g.stored.set(id, record(id));
    for (const id of ['k1', 'k2', 'k3']) await g.cache.find(id);
    expect(g.cache.size).toBe(2);
    await g.cache.find('k3');
    await g.cache.find('k2');
    await g.cache.find('k1'); // evicted: read again
    expect(g.reads).toEqual(['k1', 'k2', 'k3', 'k1']);
  });
});
