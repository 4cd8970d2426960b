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

/** Buffer's UTF-8 writer without Buffer#write's argument parsing (a few ns a string, 1.6 million strings a 50,000-row block). */
const utf8Write = (Buffer.prototype as unknown as { utf8Write(this: Buffer, value: string, offset: number): number }).utf8Write;

/** A growable byte buffer that keeps its memory from block to block. */
class Bytes {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1, initialBytes));
  }

  ensure(bytes: number): void {
    const need = this.pos + bytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  varint(value: number): void {
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

  /** A LEB128 length and the UTF-8 bytes. */
  string(value: string): void {
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
      if (i < length) end = start + utf8Write.call(buf, value, start);
      buf[this.pos] = end - start;
      this.pos = end;
      return;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += utf8Write.call(this.buf, value, this.pos);
  }

  uint32(value: number): void {
    this.ensure(4);
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = value;
    buf[pos + 1] = value >>> 8;
    buf[pos + 2] = value >>> 16;
    buf[pos + 3] = value >>> 24;
    this.pos = pos + 4;
  }

  /** A safe integer as a little-endian Int64 (two's complement), byte by byte: no BigInt and no
   *  checked Buffer#write* calls (with them a time in ms cost ~170 ns a value). */
  int64(value: number): void {
    const low = value >>> 0; // value mod 2^32, for negative values too
    this.uint32(low);
    this.uint32(((value - low) / TWO_32) >>> 0); // the high word, two's complement
  }

  bigUint64(value: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(value, this.pos);
    this.pos += 8;
  }
}

/** How a column is written, as small integers for the per-value switch. */
const Kind = { String: 0, NullableString: 1, UInt32: 2, UInt64: 3, NullableUInt64: 4, DateTime64: 5, StringMap: 6 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const KINDS: Readonly<Record<NativeType, Kind>> = Object.freeze({
  'String': Kind.String,
  'Nullable(String)': Kind.NullableString,
  'UInt32': Kind.UInt32,
  'UInt64': Kind.UInt64,
  'Nullable(UInt64)': Kind.NullableUInt64,
  "DateTime64(3, 'UTC')": Kind.DateTime64,
  'Map(String, String)': Kind.StringMap,
});

/**
 * Builds one Native block row by row: each row writes every column once (by index, in
 * `columns` order), then `endRow()`; `chunks()` gives the block as views of a buffer per column,
 * to write one after another, and `finish()` as one buffer. A caller that knows its columns
 * writes each row's values straight from its object (spans.ts `writeSpanRow`), with no array of
 * values per row. A span row costs about 1.3 µs this way; the encoder this replaced took 3.5,
 * mostly in checked Buffer#write* calls for large integers (times, offsets) and an
 * Object.entries per map (BENCHMARKS.md, finding 8).
 *
 * Values are checked as they are written; a refused value throws a NativeEncodeError naming the
 * column and row, and leaves the block unusable (`reset` it). Buffers are kept from block to
 * block, so steady inserts allocate nothing; what `chunks` and `finish` return is valid until
 * the next `reset`, so each concurrent writer needs its own instance.
 */
export class NativeBlockWriter {
  private columns: readonly NativeColumn[] = [];
  private kinds: Kind[] = [];
  /** Per column: the values (for a map, the offsets), and only where the type has them, the
   *  NULL map and a map's keys and values. */
  private readonly data: Bytes[] = [];
  private readonly nulls: (Bytes | undefined)[] = [];
  private readonly mapKeys: (Bytes | undefined)[] = [];
  private readonly mapValues: (Bytes | undefined)[] = [];
  /** Per map column: entries written so far (the running end offset). */
  private mapEnds: number[] = [];
  private readonly out: Bytes;
  private rowCount = 0;

  constructor(columns: readonly NativeColumn[], private readonly initialBytes = 1 << 16) {
    this.out = new Bytes(initialBytes);
    this.reset(columns);
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Starts an empty block, of these columns when given (a column type it cannot write throws). */
  reset(columns: readonly NativeColumn[] = this.columns): void {
    if (columns !== this.columns) {
      const kinds = columns.map((column) => {
        const kind = KINDS[column.type];
        if (kind === undefined) throw new NativeEncodeError(`column '${column.name}': type '${column.type}' is not supported`);
        return kind;
      });
      this.columns = columns;
      this.kinds = kinds;
      const size = Math.max(1, this.initialBytes >> 4);
      kinds.forEach((kind, c) => {
        this.data[c] ??= new Bytes(size);
        if (kind === Kind.NullableString || kind === Kind.NullableUInt64) this.nulls[c] ??= new Bytes(size);
        if (kind === Kind.StringMap) {
          this.mapKeys[c] ??= new Bytes(size);
          this.mapValues[c] ??= new Bytes(size);
        }
      });
      this.mapEnds = columns.map(() => 0);
    }
    for (let c = 0; c < columns.length; c++) {
      for (const bytes of [this.data[c], this.nulls[c], this.mapKeys[c], this.mapValues[c]]) if (bytes) bytes.pos = 0;
      this.mapEnds[c] = 0;
    }
    this.rowCount = 0;
  }

  endRow(): void {
    this.rowCount += 1;
  }

  string(c: number, value: string): void {
    if (typeof value !== 'string') throw this.invalid(c, value, 'a string');
    this.data[c]!.string(value);
  }

  nullableString(c: number, value: string | null | undefined): void {
    if (value == null) {
      this.nulls[c]!.byte(1);
      this.data[c]!.byte(0); // an empty string under the NULL
    } else {
      if (typeof value !== 'string') throw this.invalid(c, value, 'a string or null');
      this.nulls[c]!.byte(0);
      this.data[c]!.string(value);
    }
  }

  uint32(c: number, value: number): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= TWO_32) throw this.invalid(c, value, 'an integer in UInt32 range');
    this.data[c]!.uint32(value);
  }

  /** A non-negative safe-integer number, a bigint, or a decimal string (a Kafka offset). */
  uint64(c: number, value: number | bigint | string): void {
    this.writeUint64(c, value, false);
  }

  nullableUint64(c: number, value: number | bigint | string | null | undefined): void {
    if (value == null) {
      this.nulls[c]!.byte(1);
      this.data[c]!.int64(0);
    } else {
      this.nulls[c]!.byte(0);
      this.writeUint64(c, value, true);
    }
  }

  /** Integer milliseconds since the epoch. */
  dateTime64(c: number, value: number): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw this.invalid(c, value, 'integer milliseconds');
    this.data[c]!.int64(value);
  }

  /** A plain object of string values. */
  stringMap(c: number, value: Readonly<Record<string, string>>): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw this.invalid(c, value, 'an object of strings');
    const keys = this.mapKeys[c]!;
    const values = this.mapValues[c]!;
    let entries = 0;
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      const entry = value[key];
      if (typeof entry !== 'string') throw this.invalid(c, entry, `a string at key '${key}'`);
      keys.string(key);
      values.string(entry);
      entries += 1;
    }
    this.mapEnds[c]! += entries;
    this.data[c]!.int64(this.mapEnds[c]!);
  }

  /** Any value, by its column's type (see NativeColumn for the values a type takes). */
  value(c: number, value: unknown): void {
    switch (this.kinds[c]) {
      case Kind.String: this.string(c, value as string); break;
      case Kind.NullableString: this.nullableString(c, value as string | null); break;
      case Kind.UInt32: this.uint32(c, value as number); break;
      case Kind.UInt64: this.uint64(c, value as number); break;
      case Kind.NullableUInt64: this.nullableUint64(c, value as number | null); break;
      case Kind.DateTime64: this.dateTime64(c, value as number); break;
      case Kind.StringMap: this.stringMap(c, value as Record<string, string>); break;
    }
  }

  /** The block as one buffer: column count, row count, then per column its name, type and data. */
  finish(): Buffer {
    const chunks = this.chunks();
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    // After the names and types `chunks` wrote at `out`'s start (views that stay valid even if
    // growing `out` moves it: the old memory keeps its bytes).
    const out = this.out;
    const start = out.pos;
    out.ensure(size);
    const whole = out.buf.subarray(start, start + size);
    let at = 0;
    for (const chunk of chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    return whole;
  }

  /**
   * The block as the buffers to write one after another (no copy of the data into one): views
   * of this writer's buffers, valid until the next `reset`.
   */
  chunks(): Buffer[] {
    const out = this.out;
    out.pos = 0;
    out.varint(this.columns.length);
    out.varint(this.rowCount);
    // Names and types first, all in `out` (growing it moves them), then the views.
    const heads: number[] = [0];
    for (let c = 0; c < this.columns.length; c++) {
      const column = this.columns[c]!;
      out.string(column.name);
      out.string(column.type);
      heads.push(out.pos);
    }
    const chunks: Buffer[] = [];
    const view = (bytes: Bytes) => { if (bytes.pos > 0) chunks.push(bytes.buf.subarray(0, bytes.pos)); };
    for (let c = 0; c < this.columns.length; c++) {
      // The counts go with the first column's name and type.
      chunks.push(out.buf.subarray(c === 0 ? 0 : heads[c]!, heads[c + 1]!));
      const kind = this.kinds[c];
      if (kind === Kind.NullableString || kind === Kind.NullableUInt64) view(this.nulls[c]!);
      view(this.data[c]!);
      if (kind === Kind.StringMap) {
        view(this.mapKeys[c]!);
        view(this.mapValues[c]!);
      }
    }
    if (this.columns.length === 0) chunks.push(out.buf.subarray(0, out.pos));
    return chunks;
  }

  private writeUint64(c: number, value: unknown, nullable: boolean): void {
    const data = this.data[c]!;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) data.int64(value);
    else {
      const small = typeof value === 'string' ? smallDecimal(value) : -1;
      if (small >= 0) data.int64(small);
      else data.bigUint64(this.bigUint64(c, value, nullable));
    }
  }

  private bigUint64(c: number, value: unknown, nullable: boolean): bigint {
    const expected = `a non-negative integer below 2^64 (number, bigint or decimal string)${nullable ? ' or null' : ''}`;
    let big: bigint;
    if (typeof value === 'bigint') big = value;
    else if (typeof value === 'string' && isDigits(value)) big = BigInt(value);
    else throw this.invalid(c, value, expected);
    if (big < 0n || big > UINT64_MAX) throw this.invalid(c, value, expected);
    return big;
  }

  private invalid(c: number, value: unknown, expected: string): NativeEncodeError {
    return invalid(this.columns[c]!.name, this.rowCount, value, expected);
  }
}

/**
 * Blocks from rows of values (`rows[i][c]` is row i's value for `columns[c]`), for tables whose
 * rows are built as arrays. Keeps its writer's buffers from block to block; `encode` returns a
 * view valid until the next `encode`: give each concurrent writer its own encoder.
 */
export class NativeEncoder {
  private writer: NativeBlockWriter | null = null;

  constructor(private readonly initialBytes = 1 << 20) {}

  encode(columns: readonly NativeColumn[], rows: readonly (readonly unknown[])[]): Buffer {
    const writer = this.writer ??= new NativeBlockWriter(columns, this.initialBytes);
    writer.reset(columns);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      for (let c = 0; c < columns.length; c++) writer.value(c, row[c]);
      writer.endRow();
    }
    return writer.finish();
  }
}

/** A decimal string below 2^53 as a number, or -1 (then the BigInt path decides). */
function smallDecimal(value: string): number {
  const length = value.length;
  if (length === 0 || length > 15) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

function isDigits(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function invalid(name: string, row: number, value: unknown, expected: string): NativeEncodeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'bigint' ? `${value}n` : String(value);
  return new NativeEncodeError(`column '${name}', row ${row}: expected ${expected}, got ${shown}`);
}
