/**
 * Bulk inserts, the write path of the sink: rows given as value arrays (column order), or, on
 * chDB, a Native block a caller built row by row (`insertNativeBlock`, the spans).
 *
 * chDB: ClickHouse's Native format (`native-format.ts`), columns as ClickHouse keeps them, so the
 * insert parses no text: 50,000 realistic spans into `spans` and its views cost chDB about 285 ms
 * of CPU as JSONCompactEachRow and 135-150 ms as Native (2 cores, best of several rounds), and the
 * JS side about 1.3 µs a row to encode (native-format.ts). LowCardinality columns go as their plain types
 * and ClickHouse converts them (input_format_native_allow_types_conversion, set although it is the
 * default, because the insert relies on it). The block goes through a
 * temporary file read with `INSERT ... FROM INFILE`, not inline after the INSERT statement (what
 * @clickhouse/client's `insert` and chDB's `rawInsert` do): chDB hands inline data through its
 * query text, which costs several µs per row more than reading the same bytes from a file; the
 * file lives in the OS temp folder for the length of one insert.
 *
 * A server: JSONCompactEachRow through @clickhouse/client's streaming insert, which a server
 * parses as it arrives (rows are arrays, not objects: half the bytes of JSONEachRow for a span).
 * Native to a server would work too but is not tested here, so it stays on JSON.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeEncoder, type NativeColumn } from './native-format.js';
import type { Store } from './store.js';

export interface RowsInsert {
  table: string;
  /** Names and the types rows travel as (a LowCardinality column as its plain type). */
  columns: readonly NativeColumn[];
  /** One array of values per row, in `columns` order (see NativeColumn for the values a type takes). */
  rows: readonly (readonly unknown[])[];
  /** Names the exact slice of the log these rows came from: a replay with the same token is dropped. */
  dedupToken: string;
}

/** Where rows go: the store's engine decides how they travel. */
export type InsertTarget = Pick<Store, 'kind' | 'client'>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Settings for every bulk insert: a span table feeds several materialized views, and with
 * parallel_view_processing they are written side by side instead of one after another.
 */
const INSERT_SETTINGS = Object.freeze({ parallel_view_processing: 1 as const });

/**
 * chDB runs inside the sink's own process, on the cores its decoding and Kafka fetches use, so
 * an insert should spend as little CPU as it can rather than finish on more threads:
 * - optimize_on_insert = 0: the Replacing tables (spans, cost_ledger) would otherwise sort and
 *   collapse duplicate keys within each inserted block; every reader uses FINAL (or an
 *   idempotent aggregate) anyway, and background merges collapse them later.
 * - input_format_parallel_parsing = 0: the parallel parser's chunking and threads cost more
 *   CPU than they save when there are two cores to share.
 * Measured on 50,000 spans a insert (2 cores): about 625 -> 485 ms of CPU (BENCHMARKS.md, sink).
 */
const EMBEDDED_INSERT_SETTINGS = Object.freeze({
  ...INSERT_SETTINGS,
  optimize_on_insert: 0 as const,
  input_format_parallel_parsing: 0 as const,
  input_format_native_allow_types_conversion: 1 as const,
});

/**
 * Encoders not in use: each keeps the buffers it grew to, so steady inserts allocate nothing;
 * an insert takes one until it is done, so overlapping inserts never share one.
 */
const idleEncoders: NativeEncoder[] = [];
const MAX_IDLE_ENCODERS = 2;

export async function insertRows(target: InsertTarget, insert: RowsInsert): Promise<void> {
  if (insert.rows.length === 0) return;
  const names = checkedNames(insert.table, insert.columns);
  if (target.kind === 'server') {
    const clickhouse_settings = { ...INSERT_SETTINGS, insert_deduplication_token: insert.dedupToken };
    await target.client.insert({ table: insert.table, columns: names as [string, ...string[]], values: insert.rows as unknown[][], format: 'JSONCompactEachRow', clickhouse_settings });
    return;
  }
  const encoder = idleEncoders.pop() ?? new NativeEncoder();
  try {
    await insertBlock(target, insert.table, names, encoder.encode(insert.columns, insert.rows), insert.dedupToken);
  } finally {
    if (idleEncoders.length < MAX_IDLE_ENCODERS) idleEncoders.push(encoder);
  }
}

/**
 * chDB only: a Native block already built (a NativeBlockWriter's, row by row) of `columns`,
 * whole or as the chunks to write one after another. It must stay unchanged until this resolves.
 */
export async function insertNativeBlock(target: InsertTarget, table: string, columns: readonly NativeColumn[], block: Buffer | readonly Buffer[], dedupToken: string): Promise<void> {
  if (target.kind === 'server') throw new Error('insertNativeBlock: Native blocks go to chDB only; a server gets insertRows');
  await insertBlock(target, table, checkedNames(table, columns), block, dedupToken);
}

function checkedNames(table: string, columns: readonly NativeColumn[]): string[] {
  const names = columns.map((column) => column.name);
  for (const name of [table, ...names]) {
    if (!IDENTIFIER.test(name)) throw new Error(`insertRows: '${name}' is not a plain ClickHouse identifier`);
  }
  return names;
}

async function insertBlock(target: InsertTarget, table: string, names: readonly string[], block: Buffer | readonly Buffer[], dedupToken: string): Promise<void> {
  const clickhouse_settings = { ...EMBEDDED_INSERT_SETTINGS, insert_deduplication_token: dedupToken };
  // A folder of its own per insert, removed right after: no process-wide spool to leak when a
  // process is killed or a test worker torn down without its exit handlers.
  const folder = await mkdtemp(join(tmpdir(), 'fusebox-insert-'));
  const file = join(folder, 'rows.native');
  try {
    await writeFile(file, block);
    await target.client.command({
      query: `INSERT INTO ${table} (${names.join(', ')}) FROM INFILE '${file.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' FORMAT Native`,
      clickhouse_settings,
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
