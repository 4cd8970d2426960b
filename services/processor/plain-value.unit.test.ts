import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/lib/workload.js';
import { readPlainValue, writePlainValue, type ValueReader, type ValueWriter } from './plain-value.js';

/** A writer and a reader over a real byte buffer, so lengths and varints are exercised too. */
function bytes(): { writer: ValueWriter; reader: () => ValueReader } {
  const out: number[] = [];
  const writer: ValueWriter = {
    byte: (v) => void out.push(v),
    uint: (v) => {
      for (; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
      out.push(v);
    },
    double: (v) => {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      out.push(...b);
    },
    string: (s) => {
      const b = Buffer.from(s, 'utf8');
      writer.uint(b.length);
      out.push(...b);
    },
  };
  const reader = (): ValueReader => {
    const buf = Buffer.from(out);
    let at = 0;
    const r: ValueReader = {
      byte: () => {
        if (at >= buf.length) throw new Error('truncated');
        return buf[at++]!;
      },
      uint: () => {
        let value = 0;
        let scale = 1;
        for (;;) {
          const b = r.byte();
          value += (b & 0x7f) * scale;
          if (b < 0x80) return value;
          scale *= 0x80;
        }
      },
      double: () => {
        const v = buf.readDoubleLE(at);
        at += 8;
        return v;
      },
      string: () => {
        const n = r.uint();
        const s = buf.toString('utf8', at, at + n);
        at += n;
        return s;
      },
    };
    return r;
  };
  return { writer, reader };
}

function roundTrip(value: unknown): { written: boolean; read?: unknown } {
  const { writer, reader } = bytes();
  if (!writePlainValue(writer, value)) return { written: false };
  return { written: true, read: readPlainValue(reader()) };
}

const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return Math.floor(random() * 2 ** 53); // fingerprints, micro-USD, times
    case 3:
      return [-1, -0, 0.5, -123.25, 1e300, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY][Math.floor(random() * 8)];
    case 4:
      return ['', 'search', 'tool_call:fetch', 'ünïcödé ✓', '😀 emoji', 'x'.repeat(200)][Math.floor(random() * 6)];
    case 5:
      return undefined;
    case 6:
    case 7: {
      const out: unknown[] = [];
      for (let n = Math.floor(random() * 5); n > 0; n--) out.push(randomValue(random, depth + 1));
      return out;
    }
    default: {
      const out: Record<string, unknown> = {};
      for (let n = Math.floor(random() * 5); n > 0; n--) out[['a', 'steps', 'streaks', 'tool_call:x', '1', 'ä'][Math.floor(random() * 6)]!] = randomValue(random, depth + 1);
      return out;
    }
  }
}

describe('plain values (detector states in the changelog)', () => {
  it('read back as JSON would give them, for 5,000 random JSON-shaped values', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 5_000; i++) {
      const value = { state: randomValue(random) }; // wrapped: JSON.stringify(undefined) is not JSON
      const { written, read } = roundTrip(value);
      expect(written).toBe(true);
      expect(read).toEqual(asJson(value));
      expect(Object.keys(read as object)).toEqual(Object.keys(asJson(value) as object));
    }
  });

  it('keeps the key order of objects (the failure streaks are in recency order)', () => {
    const streaks = { 'tool_call:b': 1, 'tool_call:a': 2, '10': 3, 'llm_call:chat': 4 };
    expect(Object.keys(roundTrip({ streaks }).read as { streaks: object }).length).toBe(1);
    expect(Object.keys((roundTrip({ streaks }).read as { streaks: object }).streaks)).toEqual(Object.keys(asJson(streaks) as object));
  });

  it.each([
    ['a Date', { at: new Date(0) }],
    ['a Map', { m: new Map([[1, 2]]) }],
    ['a bigint', { n: 10n }],
    ['an object with toJSON', { v: { toJSON: () => 'x' } }],
    ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": true}}')],
    ['a lone surrogate in a string', { tools: ['search', 'broken \ud800'] }],
    ['a lone surrogate in a key', { streaks: { 'tool_call:\udc00': 1 } }],
    ['a class instance', { v: new (class Point { x = 1 })() }],
    ['nesting deeper than 32', JSON.parse('['.repeat(40) + ']'.repeat(40))],
  ])('refuses %s, so the caller writes JSON instead', (_, value) => {
    expect(roundTrip(value).written).toBe(false);
  });

  it('refuses to read what it would not have written', () => {
    const { writer, reader } = bytes();
    writer.byte(9);
    expect(() => readPlainValue(reader())).toThrow(/unknown value tag 9/);
  });

  it('is compact for a loop state: a 53-bit fingerprint takes 8 bytes, not 16 digits and a comma', () => {
    const state = { history: [2 ** 52 + 12_345, 2 ** 52 + 67_890, 2 ** 52 + 11], tools: ['search', 'search', 'search'] };
    const sizes: number[] = [];
    const sink: ValueWriter = { byte: () => sizes.push(1), uint: (v) => sizes.push(Math.max(1, Math.ceil(Math.log2(v + 1) / 7))), double: () => sizes.push(8), string: (s) => sizes.push(1 + Buffer.byteLength(s)) };
    expect(writePlainValue(sink, state)).toBe(true);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBe(71); // JSON: 101
    expect(total).toBeLessThan(0.75 * Buffer.byteLength(JSON.stringify(state)));
  });
});

