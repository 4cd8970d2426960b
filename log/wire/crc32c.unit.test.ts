import { describe, expect, it } from 'vitest';
import { crc32c, crc32cPortable } from './crc32c.js';

/** The textbook byte-at-a-time CRC-32C, to hold the slice-by-8 version to. */
function reference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('gives the standard check value and the RFC 3720 test vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('equals the byte-wise reference at every length and offset around the 8-byte steps', () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= 40; end++) expect(crc32c(bytes, start, end)).toBe(reference(bytes.subarray(start, end)));
    }
    expect(crc32c(bytes, 3, 297)).toBe(reference(bytes.subarray(3, 297)));
  });

  it('gives the same from the native version (large inputs) and the portable one, at any offset into a shared buffer', () => {
    const pool = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 2_654_435_761) >>> 24);
    for (const [start, end] of [[0, 1_023], [1, 1_025], [7, 4_103], [12_345, 200_001], [0, 300_000]] as const) {
      const expected = reference(pool.subarray(start, end));
      expect(crc32c(pool, start, end)).toBe(expected);
      expect(crc32cPortable(pool, start, end)).toBe(expected);
      const view = Buffer.from(pool.buffer, start, end - start); // a Buffer that starts inside its ArrayBuffer
      expect(crc32c(view)).toBe(expected);
    }
  });
});
