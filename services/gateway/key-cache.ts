/**
 * API-key records read from ClickHouse once per TTL instead of once per request: the lookup was a
 * query per request, the largest fixed cost of a small batch.
 *
 * Revocation: an entry is trusted for `ttlMs` from the moment it was read, then read again, so a
 * key revoked in ClickHouse is refused by every request that starts `ttlMs` or more after the
 * revocation was written (the gateway does not hear of revocations otherwise). Within that window
 * a revoked key may still be served. A revoked record is cached too (revocation is final).
 *
 * Bounded: at most `maxEntries` keys, the one read longest ago evicted first. Unknown key ids are
 * not cached (a caller spraying random ids would otherwise evict real keys), nor are failed
 * reads. Concurrent requests for an expired key share one read.
 */
import type { ApiKeyRecord } from '../../storage/tables/api-keys.js';

export interface KeyCacheOptions {
  /** How long a read record is trusted; 0 reads ClickHouse on every request. */
  ttlMs: number;
  maxEntries: number;
  clock: () => number;
}

export function createKeyCache(read: (keyId: string) => Promise<ApiKeyRecord | null>, options: KeyCacheOptions) {
  const entries = new Map<string, { record: ApiKeyRecord; readAtMs: number }>();
  const reading = new Map<string, Promise<ApiKeyRecord | null>>();

  function readShared(keyId: string): Promise<ApiKeyRecord | null> {
    let pending = reading.get(keyId);
    if (pending) return pending;
    const readAtMs = options.clock(); // the record is as of the moment the read was asked
    pending = read(keyId).then(
      (record) => {
        reading.delete(keyId);
        if (record !== null && options.ttlMs > 0) remember(keyId, record, readAtMs);
        return record;
      },
      (error: unknown) => {
        reading.delete(keyId);
        throw error;
      },
    );
    reading.set(keyId, pending);
    return pending;
  }

  function remember(keyId: string, record: ApiKeyRecord, readAtMs: number): void {
    entries.delete(keyId);
    entries.set(keyId, { record, readAtMs });
    if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
  }

  return {
    /** The key's record, from the cache while fresh, else read (null: no such key). */
    find(keyId: string): Promise<ApiKeyRecord | null> {
      const entry = entries.get(keyId);
      const ageMs = entry ? options.clock() - entry.readAtMs : -1;
      // A clock that stepped back makes the age negative: read again rather than trust it longer.
      if (entry && ageMs >= 0 && ageMs < options.ttlMs) return Promise.resolve(entry.record);
      if (entry) entries.delete(keyId);
      return readShared(keyId);
    },
    get size(): number {
      return entries.size;
    },
  };
}

export type KeyCache = ReturnType<typeof createKeyCache>;
