import { describe, expect, it } from 'vitest';
import { SPAN_COLUMNS, SPAN_INSERT_COLUMNS, spanValues, type SpanRow } from './spans.js';

describe('span rows for insert', () => {
  it('spanValues gives every column, in SPAN_COLUMNS order', () => {
    // A distinct value per column, so a swapped or missing column shows.
    const row = Object.fromEntries(SPAN_COLUMNS.map((column) => [column, `value of ${column}`])) as unknown as SpanRow;
    expect(spanValues(row)).toEqual(SPAN_COLUMNS.map((column) => `value of ${column}`));
  });

  it('types every column it sends, in the same order', () => {
    expect(SPAN_INSERT_COLUMNS.map((column) => column.name)).toEqual([...SPAN_COLUMNS]);
  });
});
