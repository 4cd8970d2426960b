/**
 * Random (version 4) UUIDs for span and event ids, cheaper on the agent's hot path than
 * crypto.randomUUID(): Node builds that one by concatenation, a string V8 must flatten before
 * its characters can be read, which cost the span encoder about 150 ns per id. These are
 * made flat (String.fromCharCode) from a pool of cryptographically random bytes.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let used = pool.length;
const HEX = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** The 36 character codes of the id being made; the dashes stay in place. */
const codes: number[] = Array.from('00000000-0000-0000-0000-000000000000', (c) => c.charCodeAt(0));
/** Where each of the 16 bytes' two hex digits go, dashes skipped. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

export function randomId(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  for (let i = 0; i < 16; i++) {
    let byte = pool[used + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x40; // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // RFC 4122 variant
    codes[AT[i]!] = HEX[byte >> 4]!;
    codes[AT[i]! + 1] = HEX[byte & 0x0f]!;
  }
  used += 16;
  return String.fromCharCode.apply(null, codes);
}
