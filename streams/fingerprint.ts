/**
 * 53-bit fingerprints of strings, as plain numbers: two FNV-1a style 32-bit lanes, seeded with
 * the text's length. The engine's dedup window (event ids) and the loop detector's history
 * (call signatures) keep these instead of the strings: 8 bytes in memory and about 16 digits in
 * the changelog. Changing the function changes every fingerprint already in a changelog.
 *
 * The text can be fed in pieces (`begin`, `feed`, `finish`), so a signature is hashed without
 * building it; the scratch lanes are module state, which is safe because hashing is synchronous
 * and never reentered.
 */
let laneA = 0;
let laneB = 0;

/** Starts a fingerprint of a text `length` characters long (the pieces fed must add up to it). */
export function begin(length: number): void {
  laneA = 0x811c9dc5;
  laneB = 0x01000193 ^ length;
}

export function feed(s: string): void {
  let a = laneA;
  let b = laneB;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  laneA = a;
  laneB = b;
}

export const finish = (): number => fromHalves(laneA >>> 0, laneB >>> 0);

/** The fingerprint of a whole text. */
export function fingerprint(text: string): number {
  begin(text.length);
  feed(text);
  return finish();
}

/** The 53-bit fingerprint from the two unsigned 32-bit lanes (also how hex fingerprints of v1 snapshots convert). */
export function fromHalves(a: number, b: number): number {
  return a * 2 ** 21 + (b >>> 11);
}
