/**
 * SHA-256 of a string, hex. One-shot `crypto.hash` where Node has it (20.12 and later): a
 * `createHash()` object is a native handle that V8 must process as a weak handle when it dies,
 * which at thousands a second made each young-generation GC of an agent's thread take ~2 ms
 * instead of ~0.7 (BENCHMARKS.md, finding 6). Same digest either way.
 */
import * as crypto from 'node:crypto';

const oneShot: ((algorithm: string, data: string, encoding: 'hex') => string) | undefined = (crypto as { hash?: typeof crypto.hash }).hash;

export function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}
