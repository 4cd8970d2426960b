/**
 * Canonical JSON and its hash: the same arguments give the same hash whatever the key order
 * or whitespace, so loop detection compares hashes without shipping arguments.
 */
import { sha256Hex } from './sha256.js';

/** JSON with object keys sorted at every depth; `undefined` members dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** 128 bits of SHA-256 over the canonical JSON, hex: collision-safe and short on the wire. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value)).slice(0, 32);
}
