import { describe, expect, it } from 'vitest';
import { NativeBlockWriter, NativeEncodeError, NativeEncoder, type NativeColumn } from './native-format.js';

const COLUMNS: readonly NativeColumn[] = [
  { name: 's', type: 'String' },
  { name: 'ns', type: 'Nullable(String)' },
  { name: 'u32', type: 'UInt32' },
  { name: 'u64', type: 'UInt64' },
  { name: 'nu', type: 'Nullable(UInt64)' },
  { name: 't', type: "DateTime64(3, 'UTC')" },
  { name: 'm', type: 'Map(String, String)' },
];

const ROWS = [
  ['', null, 0, 0, null, -1, {}],
  ['hé "q" \\ \n 😀', '', 4_294_967_295, '18446744073709551615', 9_007_199_254_740_993n, 1_700_000_000_123, { k: 'v', ü: '😀' }],
  ['x'.repeat(200), 'é'.repeat(42), 1, '9007199254740993', 0, 0, { '': '' }],
] as const;

/**
 * Captured from chDB 3.4.0 (ClickHouse 26.7): the same three rows written by ClickHouse itself,
 * `SELECT * FROM values('s String, ns Nullable(String), u32 UInt32, u64 UInt64, nu Nullable(UInt64),
 * t DateTime64(3, \'UTC\'), m Map(String, String)', ...) INTO OUTFILE ... FORMAT Native`.
 * Covers empty strings, NULLs, a non-NULL empty string, quotes, a backslash, a newline, 2- and
 * 4-byte UTF-8, a 200-byte string (two-byte length), 42 two-byte characters (the longest string
 * the encoder writes before knowing its length), UInt64 above 2^53 and at 2^64 - 1, a time before
 * the epoch, and empty, one- and two-entry maps.
 */
const CAPTURED = [
  '0703017306537472696e67001068c3a920227122205c200a20f09f9880c8017878787878787878787878787878787878',
  '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878',
  '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878',
  '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878',
  '787878787878787878787878787878787878787878787878787878787878787878787878787878026e73104e756c6c61',
  '626c6528537472696e6729010000000054c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3',
  'a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3',
  'a9c3a9c3a9037533320655496e74333200000000ffffffff01000000037536340655496e7436340000000000000000ff',
  'ffffffffffffff0100000000002000026e75104e756c6c61626c652855496e7436342901000000000000000000000100',
  '00000000200000000000000000000174144461746554696d65363428332c20275554432729ffffffffffffffff7b68e5',
  'cf8b0100000000000000000000016d134d617028537472696e672c20537472696e672900000000000000000200000000',
  '0000000300000000000000016b02c3bc00017604f09f988000',
].join('');

describe('NativeEncoder', () => {
  it('writes the bytes ClickHouse writes for the same block', () => {
    expect(new NativeEncoder().encode(COLUMNS, ROWS).toString('hex')).toBe(CAPTURED);
  });

  it('writes the same bytes when it has to grow its buffer on the way', () => {
    expect(new NativeEncoder(1).encode(COLUMNS, ROWS).toString('hex')).toBe(CAPTURED);
  });

  it('writes a block of zero rows as the column count, zero, and the names and types', () => {
    const bytes = new NativeEncoder().encode([{ name: 'a', type: 'String' }, { name: 'm', type: 'Map(String, String)' }], []);
    expect([...bytes]).toEqual([2, 0, 1, 0x61, 6, ...Buffer.from('String'), 1, 0x6d, 19, ...Buffer.from('Map(String, String)')]);
  });

  it('writes string lengths as LEB128 varints at the one- and two-byte boundaries', () => {
    // header: 1 column, 1 row, name 's', type 'String' = 1 + 1 + 2 + 7 bytes, then the length at 11
    const at = (value: string) => [...new NativeEncoder().encode([{ name: 's', type: 'String' }], [[value]]).subarray(11, 13)];
    expect(at('x'.repeat(127))).toEqual([0x7f, 0x78]);
    expect(at('x'.repeat(128))).toEqual([0x80, 0x01]);
    expect(at('é'.repeat(64))).toEqual([0x80, 0x01]); // 64 characters, 128 bytes
    expect(at('😀'.repeat(20))).toEqual([80, 0xf0]); // 40 UTF-16 units, 80 bytes
    expect(at('x'.repeat(300))).toEqual([0xac, 0x02]);
  });

  it('gives the same block as chunks to write one after another, again after a reset', () => {
    const writer = new NativeBlockWriter(COLUMNS, 1);
    for (let round = 0; round < 2; round++) {
      writer.reset();
      for (const row of ROWS) {
        row.forEach((value, c) => writer.value(c, value));
        writer.endRow();
      }
      expect(Buffer.concat(writer.chunks()).toString('hex')).toBe(CAPTURED);
    }
  });

  it('reuses its buffer: a second block starts from the beginning', () => {
    const encoder = new NativeEncoder();
    encoder.encode(COLUMNS, ROWS);
    expect(encoder.encode(COLUMNS, ROWS).toString('hex')).toBe(CAPTURED);
  });

  it.each([
    ['a number in a String column', { name: 'c', type: 'String' }, 1],
    ['NULL in a String column', { name: 'c', type: 'String' }, null],
    ['NULL in a UInt64 column', { name: 'c', type: 'UInt64' }, null],
    ['a negative UInt64', { name: 'c', type: 'UInt64' }, -1],
    ['a fractional UInt64', { name: 'c', type: 'UInt64' }, 1.5],
    ['a UInt64 number past 2^53 (already imprecise)', { name: 'c', type: 'UInt64' }, 2 ** 53 + 2],
    ['a UInt64 string past 2^64 - 1', { name: 'c', type: 'UInt64' }, '18446744073709551616'],
    ['a UInt64 string that is not decimal', { name: 'c', type: 'UInt64' }, '0x10'],
    ['a UInt64 string with a sign', { name: 'c', type: 'UInt64' }, '-1'],
    ['a UInt32 past 2^32 - 1', { name: 'c', type: 'UInt32' }, 4_294_967_296],
    ['a fractional time', { name: 'c', type: "DateTime64(3, 'UTC')" }, 1.5],
    ['a map value that is not a string', { name: 'c', type: 'Map(String, String)' }, { k: 1 }],
    ['NULL for a map', { name: 'c', type: 'Map(String, String)' }, null],
    ['an array for a map', { name: 'c', type: 'Map(String, String)' }, [['k', 'v']]],
  ] as const satisfies readonly (readonly [string, NativeColumn, unknown])[])('refuses %s, naming the column and row', (_, column, value) => {
    const thrown = caught(() => new NativeEncoder().encode([column], [[ok(column.type)], [value]]));
    expect(thrown).toBeInstanceOf(NativeEncodeError);
    expect(thrown).toMatchObject({ code: 'NATIVE_ENCODE', retriable: false, message: expect.stringContaining("column 'c', row 1:") });
  });

  it('refuses a column type it does not write', () => {
    const thrown = caught(() => new NativeEncoder().encode([{ name: 'c', type: 'Int8' } as unknown as NativeColumn], [[1]]));
    expect(thrown).toMatchObject({ code: 'NATIVE_ENCODE', message: expect.stringContaining("type 'Int8'") });
  });
});

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return null;
}

/** A valid value for the row before the refused one. */
function ok(type: string): unknown {
  if (type === 'String') return 'x';
  if (type === 'Map(String, String)') return {};
  return 1;
}
