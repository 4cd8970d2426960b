/**
 * API keys: `fbx_<key id>_<secret>`. The key id (16 hex digits) is public: it names the key in
 * logs and the access log and is how a key is looked up; the secret is 32 random bytes
 * (base64url). Only the SHA-256 of the whole key is stored: with 256 bits of entropy there is
 * nothing to brute-force, so a slow password hash would only slow every request down.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_PATTERN = /^fbx_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  keyId: string;
  /** Shown once to whoever created it; never stored. */
  key: string;
  keySha256: string;
}

export function generateKey(random: (bytes: number) => Buffer = randomBytes): NewKey {
  const keyId = random(8).toString('hex');
  const key = `fbx_${keyId}_${random(32).toString('base64url')}`;
  return { keyId, key, keySha256: sha256Hex(key) };
}

/** The key id of a well-formed key, or null: a malformed key is rejected before any lookup. */
export function keyIdOf(key: string): string | null {
  return KEY_PATTERN.exec(key)?.[1] ?? null;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented key with a stored hash. */
export function keyMatches(key: string, storedSha256: string): boolean {
  const presented = Buffer.from(sha256Hex(key), 'hex');
  const stored = Buffer.from(storedSha256, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** The key from `Authorization: Bearer <key>`; undefined when the header is absent or not Bearer. */
export function bearerKey(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
