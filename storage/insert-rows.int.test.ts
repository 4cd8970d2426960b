/**
 * The chDB insert path (Native, native-format.ts) against the JSON path it replaced: the same
 * rows, one table written each way, read back column by column. chDB only: a server keeps
 * JSONCompactEachRow (insert-rows.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { span } from '../test/spans.js';
import { migrate } from './migrate.js';
import { openStore, type Store } from './store.js';
import { createSpanBlock, insertSpans, SPAN_COLUMNS, SPAN_INSERT_COLUMNS, toSpanRow, type SpanRow } from './tables/spans.js';

/** One JSON array per line: what JSONCompactEachRow reads, the path Native replaced. */
const compactJsonLines = (rows: readonly (readonly unknown[])[]): string => rows.map((row) => JSON.stringify(row)).join('\n');

const AWKWARD = 'quote \' double " backslash \\ \\n not-a-newline, newline \n tab \t nul \u0000 é 😀 漢字 \u2028';

describe('insertSpans on chDB (Native)', () => {
  let store: Store;
  let path: string;
  beforeAll(async () => {
    path = mkdtempSync(join(tmpdir(), 'fusebox-chdb-'));
    store = await openStore({ kind: 'chdb', path });
    await migrate(store.client);
  });
  afterAll(async () => {
    await store.close();
    rmSync(path, { recursive: true, force: true });
  });

  it('sends each column as the table type it stands for (LowCardinality as its plain type)', async () => {
    const result = await store.client.query({ query: "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'spans'", format: 'JSONEachRow' });
    const tableTypes = new Map((await result.json<{ name: string; type: string }>()).map((c) => [c.name, c.type.replace(/^LowCardinality\((.*)\)$/, '$1')]));
    expect(SPAN_INSERT_COLUMNS.map((c) => [c.name, c.type])).toEqual(SPAN_INSERT_COLUMNS.map((c) => [c.name, tableTypes.get(c.name)]));
  });

  it('stores every column exactly as the JSONCompactEachRow path did', async () => {
    const rows: SpanRow[] = [
      toSpanRow(span({ kind: 'tool_call', name: 'search' }), { partition: 0, offset: '0' }),
      toSpanRow(span({
        kind: 'llm_call', name: AWKWARD, status: 'error', error: AWKWARD, model: 'gpt-4o', provider: 'openai', parentRunId: 'run-0', parentSpanId: 's-0',
        inputTokens: 1_234, outputTokens: Number.MAX_SAFE_INTEGER, cachedTokens: 0, costMicros: 123_456_789_012, argsHash: 'h', args: AWKWARD, outputHash: '', output: '',
        userId: 'user-é', sessionId: 'sess', edge: { kind: 'spawn', targetRunId: 'run-9', targetTreeId: 'tree-9' },
        attributes: { '': '', 'fusebox.agent.tags': 'a,b', [AWKWARD]: AWKWARD, emoji: '😀' },
      }), { partition: 4_294_967_295, offset: '18446744073709551615' }),
      toSpanRow(span({ kind: 'spawn', name: 'x'.repeat(512), args: 'é'.repeat(5_000), costMicros: 0, attributes: {} }), { partition: 3, offset: '9007199254740993' }),
    ];
    await insertSpans(store, rows, 'native:0:0-2');

    const columns = SPAN_COLUMNS.join(', ');
    await store.client.command({ query: 'CREATE TABLE spans_json AS spans' });
    const folder = mkdtempSync(join(tmpdir(), 'fusebox-json-'));
    const file = join(folder, 'rows.jsonl');
    writeFileSync(file, compactJsonLines(rows.map((row) => SPAN_COLUMNS.map((column) => row[column]))));
    await store.client.command({ query: `INSERT INTO spans_json (${columns}) FROM INFILE '${file}' FORMAT JSONCompactEachRow` });
    rmSync(folder, { recursive: true, force: true });

    const read = async (table: string) => (await store.client.query({ query: `SELECT ${columns} FROM ${table} ORDER BY event_id`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    const native = await read('spans');
    expect(native).toEqual(await read('spans_json'));
    expect(native).toHaveLength(3);
    expect(native[1]).toMatchObject({
      name: AWKWARD, error: AWKWARD, args: AWKWARD, output: '', output_hash: '', model: 'gpt-4o', edge_kind: 'spawn',
      output_tokens: String(Number.MAX_SAFE_INTEGER), cost_micros: '123456789012', source_partition: 4_294_967_295, source_offset: '18446744073709551615',
      attributes: { '': '', 'fusebox.agent.tags': 'a,b', [AWKWARD]: AWKWARD, emoji: '😀' },
    });
    expect(native[0]).toMatchObject({ model: null, provider: null, error: null, cost_micros: null, edge_kind: null, attributes: {} });
    expect(native[2]).toMatchObject({ cost_micros: '0', source_offset: '9007199254740993', name: 'x'.repeat(512), args: 'é'.repeat(5_000) });
    const times = await (await store.client.query({ query: 'SELECT toUnixTimestamp64Milli(start_time) AS s, toUnixTimestamp64Milli(end_time) AS e FROM spans ORDER BY event_id', format: 'JSONEachRow' })).json<{ s: string; e: string }>();
    expect(times).toEqual(rows.map((row) => ({ s: String(row.start_time), e: String(row.end_time) })));
  });

  it('a span block written row by row is inserted once, its writer then reused by the next block', async () => {
    const row = (eventId: string) => toSpanRow(span({ kind: 'tool_call', name: 'search', eventId, tenantId: 'block-test' }), { partition: 0, offset: '1' });
    const first = createSpanBlock(store);
    first.push(row('block-a'));
    first.push(row('block-b'));
    expect(first.length).toBe(2);
    await first.insert('block:0:0-1');
    expect(() => first.push(row('block-c'))).toThrow('rows pushed after its insert');
    await expect(first.insert('block:0:0-1')).rejects.toThrow('inserted twice');
    const second = createSpanBlock(store); // takes the first one's writer: nothing of its rows may remain
    expect(second.length).toBe(0);
    second.push(row('block-c'));
    await second.insert('block:0:2-2');
    const ids = await (await store.client.query({ query: "SELECT event_id FROM spans WHERE tenant_id = 'block-test' ORDER BY event_id", format: 'JSONEachRow' })).json<{ event_id: string }>();
    expect(ids.map((r) => r.event_id)).toEqual(['block-a', 'block-b', 'block-c']);
  });
});
