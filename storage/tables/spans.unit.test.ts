import { describe, expect, it } from 'vitest';
import { NativeBlockWriter, NativeEncoder } from '../native-format.js';
import { SPAN_COLUMNS, SPAN_INSERT_COLUMNS, spanValues, writeSpanRow, type SpanRow } from './spans.js';

/** A distinct value per column (of its type), so a swapped or missing column shows. */
function distinctRow(): SpanRow {
  let n = 0;
  const entries = SPAN_INSERT_COLUMNS.map((column) => {
    n += 1;
    if (column.type === 'String' || column.type === 'Nullable(String)') return [column.name, `value of ${column.name}`];
    if (column.type === 'Map(String, String)') return [column.name, { key: `value of ${column.name}` }];
    if (column.name === 'source_offset') return [column.name, String(n)];
    return [column.name, n];
  });
  return Object.fromEntries(entries) as SpanRow;
}

/** Every nullable column NULL. */
function nullRow(): SpanRow {
  const row: Record<string, unknown> = { ...distinctRow() };
  for (const column of SPAN_INSERT_COLUMNS) if (column.type.startsWith('Nullable')) row[column.name] = null;
  return row as SpanRow;
}

describe('span rows for insert', () => {
  it('spanValues gives every column, in SPAN_COLUMNS order', () => {
    const row = Object.fromEntries(SPAN_COLUMNS.map((column) => [column, `value of ${column}`])) as unknown as SpanRow;
    expect(spanValues(row)).toEqual(SPAN_COLUMNS.map((column) => `value of ${column}`));
  });

  it('types every column it sends, in the same order', () => {
    expect(SPAN_INSERT_COLUMNS.map((column) => column.name)).toEqual([...SPAN_COLUMNS]);
  });

  it('writeSpanRow writes the block the row arrays of spanValues encode to', () => {
    const rows = [distinctRow(), nullRow(), distinctRow()];
    const writer = new NativeBlockWriter(SPAN_INSERT_COLUMNS);
    for (const row of rows) writeSpanRow(writer, row);
    const expected = new NativeEncoder().encode(SPAN_INSERT_COLUMNS, rows.map(spanValues));
    expect(writer.rows).toBe(3);
    expect(writer.finish().toString('hex')).toBe(expected.toString('hex'));
  });
});
