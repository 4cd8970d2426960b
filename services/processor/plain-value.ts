/**
 * JSON-shaped values (null, booleans, numbers, strings, arrays, plain objects) in a compact
 * tagged binary form, for the detector states of the state changelog. `JSON.stringify` of a
 * loop state spent most of its time printing 16-digit fingerprints as decimal text, and the
 * text then went through a second pass to become UTF-8; here a fingerprint is a 7-byte varint.
 *
 * What is read back equals what `JSON.parse(JSON.stringify(value))` gives (the unit test holds
 * them together): keys in their order, undefined properties left out, undefined or non-finite
 * array items and non-finite numbers as null. A value JSON would treat specially (a toJSON,
 * a Date, a Map, a bigint, a `__proto__` key, a string with a lone surrogate, deeper than
 * MAX_DEPTH) is not written: `write` answers false, and the caller rewinds and writes JSON
 * instead.
 */

export interface ValueWriter {
  byte(value: number): void;
  uint(value: number): void;
  double(value: number): void;
  string(value: string): void;
}

export interface ValueReader {
  byte(): number;
  uint(): number;
  double(): number;
  string(): string;
}

const NULL = 0;
const FALSE = 1;
const TRUE = 2;
/** A non-negative safe integer, as a varint. */
const UINT = 3;
/** Any other finite number, as 8 bytes. */
const DOUBLE = 4;
const STRING = 5;
const ARRAY = 6;
const OBJECT = 7;

const MAX_DEPTH = 32;

/** Writes `value`; false (with part of it written: rewind) when it is not a plain JSON-shaped value. */
export function writePlainValue(w: ValueWriter, value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) w.byte(NULL);
      else if (Number.isSafeInteger(value) && value >= 0) {
        w.byte(UINT);
        w.uint(value);
      } else {
        w.byte(DOUBLE);
        w.double(value);
      }
      return true;
    case 'string':
      if (!wellFormed(value)) return false;
      w.byte(STRING);
      w.string(value);
      return true;
    case 'boolean':
      w.byte(value ? TRUE : FALSE);
      return true;
    case 'object':
      break;
    default:
      return false; // undefined, bigint, symbol, function: JSON drops or refuses them
  }
  if (value === null) {
    w.byte(NULL);
    return true;
  }
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    w.byte(ARRAY);
    w.uint(value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') w.byte(NULL);
      else if (!writePlainValue(w, item, depth + 1)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false; // Date, Map, class instances: JSON has its own rules
  const record = value as Record<string, unknown>;
  if (typeof record.toJSON === 'function') return false;
  let count = 0;
  for (const key in record) if (kept(record[key])) count += 1;
  w.byte(OBJECT);
  w.uint(count);
  for (const key in record) {
    const item = record[key];
    if (!kept(item)) continue;
    if (key === '__proto__') return false; // read back by assignment it would set the prototype
    if (!wellFormed(key)) return false;
    w.string(key);
    if (!writePlainValue(w, item, depth + 1)) return false;
  }
  return true;
}

/**
 * A lone surrogate would become U+FFFD in UTF-8, where JSON keeps it as an escape: such a string
 * is left to JSON. (Strings decoded from spans never hold one; hand-made states might.)
 */
const wellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Whether JSON keeps an object property with this value. */
const kept = (item: unknown): boolean => item !== undefined && typeof item !== 'function' && typeof item !== 'symbol';

export function readPlainValue(r: ValueReader, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new Error('a value nested too deep');
  const tag = r.byte();
  switch (tag) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case UINT:
      return r.uint();
    case DOUBLE:
      return r.double();
    case STRING:
      return r.string();
    case ARRAY: {
      const items: unknown[] = [];
      for (let n = r.uint(); n > 0; n--) items.push(readPlainValue(r, depth + 1));
      return items;
    }
    case OBJECT: {
      const out: Record<string, unknown> = {};
      for (let n = r.uint(); n > 0; n--) {
        const key = r.string();
        if (key === '__proto__') throw new Error('a __proto__ key');
        out[key] = readPlainValue(r, depth + 1);
      }
      return out;
    }
    default:
      throw new Error(`unknown value tag ${tag}`);
  }
}
