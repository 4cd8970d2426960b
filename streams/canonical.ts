/**
 * Canonical JSON and its hash: the same arguments give the same hash whatever the key order
 * or whitespace, so loop detection compares hashes without shipping arguments.
 */
import { sha256Hex } from './sha256.js';

/**
 * JSON with object keys sorted at every depth; `undefined` members dropped as JSON does.
 * Written as one pass appending to a string, with keys sorted in place: every tool call of an
 * agent hashes its arguments and its result, so this runs on the agent's thread at its call
 * rate, and what it allocates is what the agent's young-generation GCs must sweep.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  const record = value as Record<string, unknown>;
  const keys = sortInPlace(Object.keys(record));
  let out = '{';
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

/**
 * UTF-16 code-unit order, as Array.prototype.sort() without a comparator; an insertion sort
 * for the few keys arguments have (sort() copies into a work array first).
 */
function sortInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** 128 bits of SHA-256 over the canonical JSON, hex: collision-safe and short on the wire. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value)).slice(0, 32);
}
