/**
 * CRC-64-AVRO, the Rabin fingerprint the Avro specification prescribes for single-object
 * encoding. avsc only offers crypto hashes (md5, sha256), so it is computed here; the test
 * checks it against values printed by Apache Avro's own Java SchemaNormalization.
 */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & (-(fp & 1n) & MASK));
  return fp;
});

/** The 64-bit fingerprint of `text` (a schema's Parsing Canonical Form), as unsigned. */
export function rabinFingerprint64(text: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  }
  return fp;
}

/** The fingerprint as the 8 little-endian bytes that follow the C3 01 marker. */
export function fingerprintBytes(text: string): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(rabinFingerprint64(text));
  return out;
}
