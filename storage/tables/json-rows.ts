/**
 * Large reads in ClickHouse's `JSONColumns` format: one array per column, each column named
 * once, 64-bit integers as numbers, parsed with one JSON.parse, each column checked whole
 * against its type, then rows built. For the 10,000 runs of a big causal graph that is 1 MB of
 * text where `JSON` (an object a row, pretty-printed) took 3.6 MB, which cost ClickHouse more
 * to write and JSON.parse more to read than the query itself; and a column is checked by one
 * zod check looping over it, where a zod schema per value allocated 40 MB a graph (a result
 * object a value and a check), which young-generation GC then spent ~30 ms copying.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';

/** A column of values that `is` accepts, described as `what` in the error naming the first that is not. */
function column<T>(what: string, is: (value: unknown) => value is T) {
  return z.custom<T[]>().superRefine((values, ctx) => {
    if (!Array.isArray(values)) {
      ctx.addIssue({ code: 'custom', message: `not a column (${typeof values})` });
      return;
    }
    for (let i = 0; i < values.length; i++) {
      if (is(values[i])) continue;
      ctx.addIssue({ code: 'custom', message: `row ${i}: ${String(JSON.stringify(values[i])).slice(0, 80)} is not ${what}` });
      return;
    }
  });
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The column types of large reads. Counts above 2^53 are refused (JSON numbers would round them). */
export const columns = {
  string: () => column('a string', isString),
  nullableString: () => column('a string or null', (v): v is string | null => v === null || isString(v)),
  count: () => column('a non-negative integer below 2^53', isCount),
  nullableCount: () => column('a non-negative integer below 2^53, or null', (v): v is number | null => v === null || isCount(v)),
};

/**
 * SQL for a DateTime64(3, 'UTC') as ISO 8601, exactly as `Date.prototype.toISOString` writes
 * it ('2026-10-11T08:00:00.000Z'): a large read gets its times as text from ClickHouse, one
 * flat string each, rather than building 20,000 strings in JS (services/api/iso.ts) for the
 * young-generation GC to copy while the answer is put together. NULL stays NULL.
 */
export const isoTimeSql = (expr: string): string => `concat(replaceOne(toString(${expr}), ' ', 'T'), 'Z')`;

export type ColumnsShape = Record<string, z.ZodType<unknown[]>>;
/** A row of a read whose columns are `S`. */
export type RowOf<S extends ColumnsShape> = { [K in keyof S]: z.output<S[K]>[number] };

/** A read's columns, each checked whole, and their common length. */
export interface ColumnsOf<S extends ColumnsShape> {
  columns: { [K in keyof S]: z.output<S[K]> };
  length: number;
}

const asJsonColumns = { format: 'JSONColumns' as 'JSON', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 as const } };

export async function queryColumns<S extends ColumnsShape>(client: ClickHouseClient, request: { query: string; query_params?: Record<string, unknown> }, shape: z.ZodObject<S>): Promise<ColumnsOf<S>> {
  const result = await client.query({ ...request, ...asJsonColumns });
  return columnsOf(JSON.parse(await result.text()), shape);
}

export async function queryRows<S extends ColumnsShape>(client: ClickHouseClient, request: { query: string; query_params?: Record<string, unknown> }, shape: z.ZodObject<S>): Promise<RowOf<S>[]> {
  return rowsOf(await queryColumns(client, request, shape));
}

/**
 * The columns of a JSONColumns answer, each checked whole (a column the read needs and the
 * answer lacks, a value of the wrong type, or columns of different lengths is an error naming
 * the column).
 */
export function columnsOf<S extends ColumnsShape>(answer: unknown, shape: z.ZodObject<S>): ColumnsOf<S> {
  const names = Object.keys(shape.shape);
  // An empty answer may come without its columns.
  if (typeof answer === 'object' && answer !== null && !Array.isArray(answer) && Object.keys(answer).length === 0) {
    return { columns: Object.fromEntries(names.map((name) => [name, []])) as ColumnsOf<S>['columns'], length: 0 };
  }
  const parsed = shape.safeParse(answer);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.path.length === 0) throw new Error(`ClickHouse's answer is not JSONColumns: ${issue.message}`);
    throw new Error(`ClickHouse answered column '${String(issue.path[0])}' with what the read cannot use: ${issue.message}`);
  }
  const columns = parsed.data as Record<string, unknown[]>;
  const length = columns[names[0]!]?.length ?? 0;
  for (const name of names) {
    if (columns[name]!.length !== length) throw new Error(`ClickHouse answered column '${name}' with ${columns[name]!.length} values, '${names[0]}' with ${length}`);
  }
  return { columns: columns as ColumnsOf<S>['columns'], length };
}

/** One object a row, from checked columns (a read that needs the rows; a large one can walk the columns). */
export function rowsOf<S extends ColumnsShape>({ columns, length }: ColumnsOf<S>): RowOf<S>[] {
  const names = Object.keys(columns);
  const values = names.map((name) => (columns as Record<string, unknown[]>)[name]!);
  const rows = new Array<Record<string, unknown>>(length);
  for (let i = 0; i < length; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = values[c]![i];
    rows[i] = row;
  }
  return rows as RowOf<S>[];
}
