/**
 * A fast parser compiled from a zod schema, for hot paths that validate every item (the
 * gateway's spans, the client's agent-supplied fields): zod v4 costs about 10-20 µs per span,
 * mostly its generic machinery (a payload and an issues array per field), while the rules
 * themselves are a few comparisons.
 *
 * The parser is derived from the schema (its definition and checks), never written beside it, so
 * the two cannot drift: a construct or check it does not know makes `compileFastParser` throw at
 * start, naming the path, rather than guess. It only *accepts*: for anything it does not accept it
 * returns NOT_ACCEPTED, and the caller asks zod, which has the final word and the message. So the
 * contract is one way: whatever the fast parser accepts, zod accepts with the same output
 * (fast-parse.unit.test.ts proves it on a table of valid and invalid spans); inputs it is unsure
 * of (an exotic prototype, a symbol key) are simply left to zod.
 *
 * Supported: object (stripping unknown keys, like z.object), string (min/max length), number
 * (int/safeint, bounds), enum, nullable, default, record of string keys, and custom checks
 * (`.refine`), which are run through zod's own check so their rule is never restated.
 */
import type { z } from 'zod';

export const NOT_ACCEPTED: unique symbol = Symbol('not accepted by the fast parser; ask zod');

/**
 * `patch`, at the root object only: values that take the place of the input's own (the tenant
 * from the API key), so a caller need not copy the input to set them.
 */
export type FastParser<T> = (input: unknown, patch?: Readonly<Record<string, unknown>>) => T | typeof NOT_ACCEPTED;

type Parse = (input: unknown, patch?: Readonly<Record<string, unknown>>) => unknown;

/** Zod's definitions as this module reads them (zod v4's `_zod.def`). */
interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef; check(payload: { value: unknown; issues: unknown[] }): unknown } }>;
  [key: string]: unknown;
}
interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
}

export class UnsupportedSchemaError extends Error {
  constructor(path: string, what: string) {
    super(`fast parser: ${path || '(root)'} is ${what}, which compileFastParser does not know; validate with zod or teach schemas/fast-parse.ts`);
    this.name = 'UnsupportedSchemaError';
  }
}

export function compileFastParser<S extends z.ZodType>(schema: S): FastParser<z.output<S>> {
  return compile(schema, '') as FastParser<z.output<S>>;
}

function defOf(schema: unknown): Def {
  return (schema as { _zod: { def: Def } })._zod.def;
}

function compile(schema: unknown, path: string): Parse {
  const def = defOf(schema);
  const parse = compileType(schema, def, path);
  if (def.type === 'string' || def.type === 'number') return parse; // their compilers read every check
  const custom = (def.checks ?? []).filter((c) => c._zod.def.check === 'custom');
  leafChecks({ ...def, checks: (def.checks ?? []).filter((c) => !custom.includes(c)) }, path, []);
  if (custom.length === 0) return parse;
  // `.refine` rules are run by zod's own check on the parsed value: the rule is never restated here.
  return (input, patch) => {
    const value = parse(input, patch);
    if (value === NOT_ACCEPTED) return NOT_ACCEPTED;
    const payload = { value, issues: [] as unknown[] };
    for (const check of custom) {
      if (check._zod.check(payload) instanceof Promise) return NOT_ACCEPTED;
    }
    return payload.issues.length === 0 ? value : NOT_ACCEPTED;
  };
}

function compileType(schema: unknown, def: Def, path: string): Parse {
  switch (def.type) {
    case 'string': return compileString(def, path);
    case 'number': return compileNumber(def, path);
    case 'enum': {
      const values = (schema as { _zod: { values: ReadonlySet<unknown> } })._zod.values; // the very set zod tests against
      return (input) => (values.has(input) ? input : NOT_ACCEPTED);
    }
    case 'nullable': {
      const inner = compile(def.innerType, path);
      return (input) => (input === null ? null : inner(input));
    }
    case 'default': {
      const inner = compile(def.innerType, path);
      // zod reads `defaultValue` anew each time (a fresh copy of an object default), and so do we.
      return (input) => (input === undefined ? def.defaultValue : inner(input));
    }
    case 'object': return compileObject(def, path);
    case 'record': return compileRecord(def, path);
    default: throw new UnsupportedSchemaError(path, `a ${def.type} schema`);
  }
}

/** Checks of a leaf other than the ones handled by its compiler are refused at compile time. */
function leafChecks(def: Def, path: string, known: readonly string[]): CheckDef[] {
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  const unknown = checks.find((c) => !known.includes(c.check));
  if (unknown) throw new UnsupportedSchemaError(path, `a ${def.type} with a '${unknown.check}' check`);
  if (def.coerce) throw new UnsupportedSchemaError(path, `a coercing ${def.type}`);
  return checks;
}

function compileString(def: Def, path: string): Parse {
  if (def.format !== undefined) throw new UnsupportedSchemaError(path, `a string of format '${String(def.format)}'`);
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const check of leafChecks(def, path, ['min_length', 'max_length'])) {
    if (check.check === 'min_length') min = Math.max(min, check.minimum!);
    else max = Math.min(max, check.maximum!);
  }
  return (input) => (typeof input === 'string' && input.length >= min && input.length <= max ? input : NOT_ACCEPTED);
}

function compileNumber(def: Def, path: string): Parse {
  // z.number() itself refuses NaN and ±Infinity.
  let min = Number.NEGATIVE_INFINITY;
  let max = Number.POSITIVE_INFINITY;
  let minInclusive = true;
  let maxInclusive = true;
  let integer = false;
  for (const check of leafChecks(def, path, ['number_format', 'greater_than', 'less_than'])) {
    if (check.check === 'number_format') {
      if (check.format !== 'safeint') throw new UnsupportedSchemaError(path, `a number of format '${check.format}'`);
      integer = true;
      ({ min, max, minInclusive, maxInclusive } = tighter({ min, max, minInclusive, maxInclusive }, Number.MIN_SAFE_INTEGER, true, Number.MAX_SAFE_INTEGER, true));
    } else if (typeof check.value !== 'number') {
      throw new UnsupportedSchemaError(path, `a number bounded by a ${typeof check.value}`);
    } else if (check.check === 'greater_than') {
      ({ min, max, minInclusive, maxInclusive } = tighter({ min, max, minInclusive, maxInclusive }, check.value, check.inclusive === true, max, maxInclusive));
    } else {
      ({ min, max, minInclusive, maxInclusive } = tighter({ min, max, minInclusive, maxInclusive }, min, minInclusive, check.value, check.inclusive === true));
    }
  }
  return (input) => {
    if (typeof input !== 'number' || !Number.isFinite(input)) return NOT_ACCEPTED;
    if (integer && !Number.isInteger(input)) return NOT_ACCEPTED;
    if (minInclusive ? input < min : input <= min) return NOT_ACCEPTED;
    if (maxInclusive ? input > max : input >= max) return NOT_ACCEPTED;
    return input;
  };
}

interface Bounds { min: number; max: number; minInclusive: boolean; maxInclusive: boolean }

function tighter(b: Bounds, min: number, minInclusive: boolean, max: number, maxInclusive: boolean): Bounds {
  const lower = min > b.min || (min === b.min && !minInclusive) ? { min, minInclusive } : { min: b.min, minInclusive: b.minInclusive };
  const upper = max < b.max || (max === b.max && !maxInclusive) ? { max, maxInclusive } : { max: b.max, maxInclusive: b.maxInclusive };
  return { ...lower, ...upper };
}

/**
 * Like z.object: any non-null, non-array object; declared keys in order; unknown keys dropped.
 * No supported field schema takes undefined except a default, so an absent key needs no case of
 * its own. With a patch the input must be a plain object: the patch stands for the copy
 * `{ ...input, ...patch }`, which sees own properties only.
 */
function compileObject(def: Def, path: string): Parse {
  if (def.catchall !== undefined) throw new UnsupportedSchemaError(path, 'an object with a catchall (strict or loose)');
  const shape = def.shape as Record<string, unknown>;
  const fields = Object.keys(shape).map((key) => ({ key, parse: compile(shape[key], `${path}${key}.`) }));
  return (input, patch) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return NOT_ACCEPTED;
    if (patch !== undefined && !isPlain(input)) return NOT_ACCEPTED;
    const source = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const field of fields) {
      const value = patch !== undefined && field.key in patch ? patch[field.key] : source[field.key];
      const parsed = field.parse(value);
      if (parsed === NOT_ACCEPTED) return NOT_ACCEPTED;
      out[field.key] = parsed;
    }
    return out;
  };
}

/** Like z.record(z.string(), value) on the plain objects JSON makes; anything unusual goes to zod. */
function compileRecord(def: Def, path: string): Parse {
  const keyDef = defOf(def.keyType);
  if (keyDef.type !== 'string' || (keyDef.checks ?? []).length > 0 || keyDef.format !== undefined || def.mode !== undefined) {
    throw new UnsupportedSchemaError(path, 'a record whose keys are not plain strings');
  }
  const value = compile(def.valueType, `${path}*.`);
  return (input) => {
    if (typeof input !== 'object' || input === null || !isPlain(input) || Object.getOwnPropertySymbols(input).length > 0) return NOT_ACCEPTED;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (key === '__proto__') continue; // zod drops it too: it must never reach an object's prototype
      const parsed = value((input as Record<string, unknown>)[key]);
      if (parsed === NOT_ACCEPTED) return NOT_ACCEPTED;
      out[key] = parsed;
    }
    return out;
  };
}

/** What JSON.parse makes (zod's own test is looser; anything else is left to zod). */
function isPlain(input: object): boolean {
  const proto = Object.getPrototypeOf(input);
  return proto === Object.prototype || proto === null;
}
