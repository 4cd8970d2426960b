/**
 * ClickHouse's Native format, write side: one block of rows, column after column, as
 * `INSERT ... FORMAT Native` reads it. Pure (no I/O); the bytes are checked against blocks chDB
 * itself writes (native-format.unit.test.ts) and by a round trip through chDB (insert-rows.int.test.ts).
 *
 * Layout of a block as a format (no BlockInfo, no per-column custom-serialization flag: those
 * belong to the TCP protocol, sent only with a client revision):
 *   varint num_columns, varint num_rows, then per column: string name, string type, data.
 * Strings are a LEB128 length and UTF-8 bytes; integers little-endian; DateTime64(3) an Int64 of
 * milliseconds; Nullable a byte per row (1 = NULL) then every row's value (a default under NULL);
 * Map(K, V) is Array(Tuple(K, V)): a UInt64 running end offset per row, then every key, then
 * every value.
 *
 * LowCardinality columns are sent as their plain types (`String`, `Nullable(String)`): ClickHouse
 * converts a block's declared type to the table's on insert, so no dictionaries are built here.
 */

/** The column types this encoder writes. */
export type NativeType =
  | 'String'
  | 'Nullable(String)'
  | 'UInt32'
  | 'UInt64'
  | 'Nullable(UInt64)'
  | "DateTime64(3, 'UTC')"
  | 'Map(String, String)';

/**
 * Values per type: strings as JS strings; UInt32 as integer numbers; UInt64 as non-negative
 * safe-integer numbers, bigints or decimal strings (Kafka offsets); DateTime64(3) as integer
 * milliseconds since the epoch; Map(String, String) as a plain object of string values; NULL as
 * null (or undefined) in Nullable columns only.
 */
export interface NativeColumn {
  readonly name: string;
  readonly type: NativeType;
}

/** A value the column's type cannot hold, or a type the encoder does not write: a bug upstream, not retriable. */
export class NativeEncodeError extends Error {
  readonly code = 'NATIVE_ENCODE' as const;
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'NativeEncodeError';
  }
}

const TWO_32 = 4_294_967_296;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Writes blocks into one Buffer it keeps and grows, so steady inserts allocate nothing.
 * `encode` returns a view of that buffer, valid until the next `encode` on the same encoder:
 * give each concurrent writer its own encoder.
 */
export class NativeEncoder {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** One block: `rows[i][c]` is row i's value for `columns[c]`. */
  encode(columns: readonly NativeColumn[], rows: readonly (readonly unknown[])[]): Buffer {
    this.pos = 0;
    this.varint(columns.length);
    this.varint(rows.length);
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      this.string(column.name);
      this.string(column.type);
      switch (column.type) {
        case 'String': this.strings(rows, c, column.name); break;
        case 'Nullable(String)': this.nullMap(rows, c); this.strings(rows, c, column.name, true); break;
        case 'UInt32': this.uint32s(rows, c, column.name); break;
        case 'UInt64': this.uint64s(rows, c, column.name); break;
        case 'Nullable(UInt64)': this.nullMap(rows, c); this.uint64s(rows, c, column.name, true); break;
        case "DateTime64(3, 'UTC')": this.int64s(rows, c, column.name); break;
        case 'Map(String, String)': this.stringMaps(rows, c, column.name); break;
        default: throw new NativeEncodeError(`column '${(column as NativeColumn).name}': type '${(column as NativeColumn).type}' is not supported`);
      }
    }
    return this.buf.subarray(0, this.pos);
  }

  private ensure(bytes: number): void {
    const need = this.pos + bytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (value >= 0x80) {
      buf[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  private string(value: string): void {
    const length = value.length;
    // Up to 3 UTF-8 bytes per UTF-16 unit: under 43 units the byte length fits a one-byte
    // varint, so write the bytes first and the length in front of them after.
    if (length < 43) {
      this.ensure(1 + 3 * length);
      const buf = this.buf;
      const start = this.pos + 1;
      let end = start;
      // A byte loop beats the call into C++ for short ASCII strings (measured: below ~16 units).
      let i = 0;
      if (length < 16) {
        for (; i < length; i++) {
          const code = value.charCodeAt(i);
          if (code >= 0x80) break;
          buf[end++] = code;
        }
      }
      if (i < length) end = start + buf.write(value, start, 'utf8');
      buf[this.pos] = end - start;
      this.pos = end;
      return;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(value, this.pos, bytes, 'utf8');
  }

  private nullMap(rows: readonly (readonly unknown[])[], c: number): void {
    this.ensure(rows.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < rows.length; i++) buf[pos++] = rows[i]![c] == null ? 1 : 0;
    this.pos = pos;
  }

  private strings(rows: readonly (readonly unknown[])[], c: number, name: string, nullable = false): void {
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![c];
      if (typeof value === 'string') {
        this.string(value);
      } else if (nullable && value == null) {
        this.ensure(1);
        this.buf[this.pos++] = 0; // an empty string under the NULL
      } else {
        throw invalid(name, i, value, nullable ? 'a string or null' : 'a string');
      }
    }
  }

  private uint32s(rows: readonly (readonly unknown[])[], c: number, name: string): void {
    this.ensure(4 * rows.length);
    const buf = this.buf;
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![c];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= TWO_32) throw invalid(name, i, value, 'an integer in UInt32 range');
      buf.writeUInt32LE(value, this.pos);
      this.pos += 4;
    }
  }

  private uint64s(rows: readonly (readonly unknown[])[], c: number, name: string, nullable = false): void {
    this.ensure(8 * rows.length);
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![c];
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) this.int64(value);
      else if (typeof value === 'string' && value.length < 16 && isDigits(value)) this.int64(Number(value));
      else if (nullable && value == null) this.int64(0);
      else this.bigUint64(toBigUint64(value, name, i, nullable));
    }
  }

  private int64s(rows: readonly (readonly unknown[])[], c: number, name: string): void {
    this.ensure(8 * rows.length);
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![c];
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(name, i, value, 'integer milliseconds');
      this.int64(value);
    }
  }

  /** A safe integer as Int64 (two's complement), without a BigInt. */
  private int64(value: number): void {
    const high = Math.floor(value / TWO_32);
    this.buf.writeUInt32LE(value - high * TWO_32, this.pos);
    this.buf.writeInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  private bigUint64(value: bigint): void {
    this.buf.writeBigUInt64LE(value, this.pos);
    this.pos += 8;
  }

  private stringMaps(rows: readonly (readonly unknown[])[], c: number, name: string): void {
    const entries = new Array<[string, unknown][]>(rows.length);
    this.ensure(8 * rows.length);
    let end = 0;
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i]![c];
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(name, i, value, 'an object of strings');
      const pairs = Object.entries(value);
      entries[i] = pairs;
      end += pairs.length;
      this.int64(end);
    }
    for (let i = 0; i < rows.length; i++) {
      for (const [key] of entries[i]!) this.string(key);
    }
    for (let i = 0; i < rows.length; i++) {
      for (const [key, value] of entries[i]!) {
        if (typeof value !== 'string') throw invalid(name, i, value, `a string at key '${key}'`);
        this.string(value);
      }
    }
  }
}

function isDigits(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function toBigUint64(value: unknown, name: string, row: number, nullable: boolean): bigint {
  const expected = `a non-negative integer below 2^64 (number, bigint or decimal string)${nullable ? ' or null' : ''}`;
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'string' && isDigits(value)) big = BigInt(value);
  else throw invalid(name, row, value, expected);
  if (big < 0n || big > UINT64_MAX) throw invalid(name, row, value, expected);
  return big;
}

function invalid(name: string, row: number, value: unknown, expected: string): NativeEncodeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'bigint' ? `${value}n` : String(value);
  return new NativeEncodeError(`column '${name}', row ${row}: expected ${expected}, got ${shown}`);
}
