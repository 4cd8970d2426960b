/** The spans table: rows from SpanEvents, idempotent batch inserts, typed reads. */
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import type { SpanEvent } from '../../schemas/index.js';
import { insertNativeBlock, insertRows, type InsertTarget } from '../insert-rows.js';
import { NativeBlockWriter, type NativeColumn, type NativeType } from '../native-format.js';

export interface SourcePosition {
  partition: number;
  offset: string;
}

export function toSpanRow(event: SpanEvent, source: SourcePosition) {
  return {
    tenant_id: event.tenantId,
    agent_id: event.agentId,
    tree_id: event.treeId,
    run_id: event.runId,
    parent_run_id: event.parentRunId,
    event_id: event.eventId,
    span_id: event.spanId,
    parent_span_id: event.parentSpanId,
    kind: event.kind,
    name: event.name,
    status: event.status,
    error: event.error,
    start_time: event.startTimeMs,
    end_time: event.endTimeMs,
    model: event.model,
    provider: event.provider,
    input_tokens: event.inputTokens,
    output_tokens: event.outputTokens,
    cached_tokens: event.cachedTokens,
    cost_micros: event.costMicros,
    args_hash: event.argsHash,
    args: event.args,
    output_hash: event.outputHash,
    output: event.output,
    user_id: event.userId,
    session_id: event.sessionId,
    edge_kind: event.edge?.kind ?? null,
    edge_target_run: event.edge?.targetRunId ?? null,
    edge_target_tree: event.edge?.targetTreeId ?? null,
    attributes: event.attributes,
    source_partition: source.partition,
    source_offset: source.offset,
  };
}

export type SpanRow = ReturnType<typeof toSpanRow>;

/** The columns the sink writes, in the order insertSpans sends values (ingested_at is the table's default). */
export const SPAN_COLUMNS = Object.freeze(Object.keys(toSpanRow({ attributes: {} } as unknown as SpanEvent, { partition: 0, offset: '0' })) as (keyof SpanRow)[]);

/**
 * A row's values in SPAN_COLUMNS order, spelled out: named property reads cost a fifth of
 * `SPAN_COLUMNS.map((c) => row[c])` (about 10 against 55 ms for 50,000 rows), whose keyed reads
 * V8 cannot specialise. spans.unit.test.ts holds the order to SPAN_COLUMNS.
 */
export function spanValues(r: SpanRow): unknown[] {
  return [
    r.tenant_id, r.agent_id, r.tree_id, r.run_id, r.parent_run_id, r.event_id, r.span_id, r.parent_span_id,
    r.kind, r.name, r.status, r.error, r.start_time, r.end_time, r.model, r.provider,
    r.input_tokens, r.output_tokens, r.cached_tokens, r.cost_micros, r.args_hash, r.args, r.output_hash, r.output,
    r.user_id, r.session_id, r.edge_kind, r.edge_target_run, r.edge_target_tree, r.attributes, r.source_partition, r.source_offset,
  ];
}

/**
 * The type each column travels as in a Native block (migration 0001): LowCardinality columns as
 * their plain types, which ClickHouse converts on insert. A Record, so a column added to
 * toSpanRow without a type here fails to compile.
 */
const SPAN_COLUMN_TYPES: Readonly<Record<keyof SpanRow, NativeType>> = Object.freeze({
  tenant_id: 'String',
  agent_id: 'String',
  tree_id: 'String',
  run_id: 'String',
  parent_run_id: 'Nullable(String)',
  event_id: 'String',
  span_id: 'String',
  parent_span_id: 'Nullable(String)',
  kind: 'String',
  name: 'String',
  status: 'String',
  error: 'Nullable(String)',
  start_time: "DateTime64(3, 'UTC')",
  end_time: "DateTime64(3, 'UTC')",
  model: 'Nullable(String)',
  provider: 'Nullable(String)',
  input_tokens: 'UInt64',
  output_tokens: 'UInt64',
  cached_tokens: 'UInt64',
  cost_micros: 'Nullable(UInt64)',
  args_hash: 'Nullable(String)',
  args: 'Nullable(String)',
  output_hash: 'Nullable(String)',
  output: 'Nullable(String)',
  user_id: 'Nullable(String)',
  session_id: 'Nullable(String)',
  edge_kind: 'Nullable(String)',
  edge_target_run: 'Nullable(String)',
  edge_target_tree: 'Nullable(String)',
  attributes: 'Map(String, String)',
  source_partition: 'UInt32',
  source_offset: 'UInt64',
});

/** SPAN_COLUMNS with the types insertSpans sends them as. */
export const SPAN_INSERT_COLUMNS: readonly NativeColumn[] = Object.freeze(SPAN_COLUMNS.map((name) => Object.freeze({ name, type: SPAN_COLUMN_TYPES[name] })));

/**
 * Writes one row into a block of SPAN_INSERT_COLUMNS, each column by its index, spelled out as
 * spanValues is (spans.unit.test.ts holds the two to the same bytes): no array of values per
 * row, and every value written while its row is still in the CPU's cache.
 */
export function writeSpanRow(w: NativeBlockWriter, r: SpanRow): void {
  w.string(0, r.tenant_id);
  w.string(1, r.agent_id);
  w.string(2, r.tree_id);
  w.string(3, r.run_id);
  w.nullableString(4, r.parent_run_id);
  w.string(5, r.event_id);
  w.string(6, r.span_id);
  w.nullableString(7, r.parent_span_id);
  w.string(8, r.kind);
  w.string(9, r.name);
  w.string(10, r.status);
  w.nullableString(11, r.error);
  w.dateTime64(12, r.start_time);
  w.dateTime64(13, r.end_time);
  w.nullableString(14, r.model);
  w.nullableString(15, r.provider);
  w.uint64(16, r.input_tokens);
  w.uint64(17, r.output_tokens);
  w.uint64(18, r.cached_tokens);
  w.nullableUint64(19, r.cost_micros);
  w.nullableString(20, r.args_hash);
  w.nullableString(21, r.args);
  w.nullableString(22, r.output_hash);
  w.nullableString(23, r.output);
  w.nullableString(24, r.user_id);
  w.nullableString(25, r.session_id);
  w.nullableString(26, r.edge_kind);
  w.nullableString(27, r.edge_target_run);
  w.nullableString(28, r.edge_target_tree);
  w.stringMap(29, r.attributes);
  w.uint32(30, r.source_partition);
  w.uint64(31, r.source_offset);
  w.endRow();
}

/**
 * Span rows gathered for one insert. On chDB each row is written into a Native block as it is
 * pushed, so the row (and the span it came from) can be collected young instead of living until
 * the insert: the sink's garbage collection was a tenth of its thread while rows waited in
 * groups (BENCHMARKS.md, finding 8). For a server, rows are kept as value arrays.
 * `insert` may be called once; the block's buffers then go back to a pool.
 */
export interface SpanBlock {
  readonly length: number;
  push(row: SpanRow): void;
  insert(dedupToken: string): Promise<void>;
}

/** Writers not in use, each keeping the buffers it grew to (one per group filling or inserting). */
const idleWriters: NativeBlockWriter[] = [];
const MAX_IDLE_WRITERS = 4;

export function createSpanBlock(target: InsertTarget): SpanBlock {
  if (target.kind === 'server') {
    const values: unknown[][] = [];
    return {
      get length() { return values.length; },
      push(row) { values.push(spanValues(row)); },
      insert: (dedupToken) => insertRows(target, { table: 'spans', columns: SPAN_INSERT_COLUMNS, rows: values, dedupToken }),
    };
  }
  let writer: NativeBlockWriter | null = idleWriters.pop() ?? new NativeBlockWriter(SPAN_INSERT_COLUMNS);
  writer.reset();
  return {
    get length() { return writer?.rows ?? 0; },
    push(row) {
      if (!writer) throw new Error('SpanBlock: rows pushed after its insert');
      writeSpanRow(writer, row);
    },
    async insert(dedupToken) {
      if (!writer) throw new Error('SpanBlock: inserted twice');
      const used = writer;
      writer = null;
      try {
        if (used.rows > 0) await insertNativeBlock(target, 'spans', SPAN_INSERT_COLUMNS, used.chunks(), dedupToken);
      } finally {
        if (idleWriters.length < MAX_IDLE_WRITERS) idleWriters.push(used);
      }
    },
  };
}

/**
 * `dedupToken` names the exact slice of the log (topic, partitions, offsets): a replayed batch
 * with the same token is dropped by ClickHouse; any other overlap collapses by event id.
 */
export async function insertSpans(target: InsertTarget, rows: readonly SpanRow[], dedupToken: string): Promise<void> {
  if (rows.length === 0) return;
  const block = createSpanBlock(target);
  for (let i = 0; i < rows.length; i++) block.push(rows[i]!);
  await block.insert(dedupToken);
}

const runSpanRow = z.object({
  event_id: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  error: z.string().nullable(),
  args_hash: z.string().nullable(),
  cost_micros: z.coerce.number().nullable(),
  end_ms: z.coerce.number(),
});
export type RunSpan = z.output<typeof runSpanRow>;

/** One run's spans, each once, in event-time order. */
export async function runSpans(client: ClickHouseClient, tenantId: string, runId: string): Promise<RunSpan[]> {
  const result = await client.query({
    query: `SELECT event_id, kind, name, status, error, args_hash, cost_micros, toUnixTimestamp64Milli(end_time) AS end_ms
            FROM spans FINAL
            WHERE tenant_id = {tenantId:String} AND run_id = {runId:String}
            ORDER BY end_time, event_id`,
    query_params: { tenantId, runId },
    format: 'JSONEachRow',
  });
  return z.array(runSpanRow).parse(await result.json());
}
