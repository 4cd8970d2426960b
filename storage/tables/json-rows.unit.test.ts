/** Rows from ClickHouse's JSONColumns answer: each column checked whole, rows built in column order. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { columns, columnsOf, rowsOf as rowsOfColumns } from './json-rows.js';
import { usageColumns, usageRow } from './usage.js';

const shape = z.object({ id: columns.string(), cost: columns.count(), parent: columns.nullableString(), time: columns.nullableCount() });

const rowsOf = (answer: unknown, read: typeof shape) => rowsOfColumns(columnsOf(answer, read));

describe('columnsOf and rowsOf', () => {
  it('builds one object a row with the read\'s columns (others ignored)', () => {
    expect(rowsOf({ id: ['a', 'b'], cost: [5, 7], parent: [null, 'a'], time: [null, 9], extra: [1, 2] }, shape)).toEqual([
      { id: 'a', cost: 5, parent: null, time: null },
      { id: 'b', cost: 7, parent: 'a', time: 9 },
    ]);
  });

  it('answers no rows for empty columns, or none at all', () => {
    expect(rowsOf({ id: [], cost: [], parent: [], time: [] }, shape)).toEqual([]);
    expect(rowsOf({}, shape)).toEqual([]);
    expect(columnsOf({}, shape)).toEqual({ columns: { id: [], cost: [], parent: [], time: [] }, length: 0 });
  });

  it('hands the checked columns over as they came, with their length', () => {
    const answer = { id: ['a', 'b'], cost: [5, 7], parent: [null, 'a'], time: [null, 9] };
    expect(columnsOf(answer, shape)).toEqual({ columns: answer, length: 2 });
  });

  it('refuses a value of the wrong type naming its column and row, a missing column, and columns of different lengths', () => {
    const good = { id: ['a', 'b'], cost: [1, 2], parent: [null, null], time: [1, null] };
    expect(() => rowsOf({ ...good, cost: [1, -2] }, shape)).toThrow("ClickHouse answered column 'cost' with what the read cannot use: row 1: -2 is not a non-negative integer below 2^53");
    expect(() => rowsOf({ ...good, cost: [1, '2'] }, shape)).toThrow(/column 'cost' .*row 1: "2" is not/);
    expect(() => rowsOf({ ...good, cost: [2 ** 53, 1] }, shape)).toThrow(/column 'cost' .*row 0: 9007199254740992 is not/);
    expect(() => rowsOf({ ...good, id: ['a', null] }, shape)).toThrow(/column 'id' .*row 1: null is not a string/);
    expect(() => rowsOf({ ...good, parent: 'x' }, shape)).toThrow(/column 'parent' .*not a column \(string\)/);
    expect(() => rowsOf({ id: ['a'], cost: [1], time: [null] }, shape)).toThrow(/column 'parent'/);
    expect(() => rowsOf({ ...good, time: [1] }, shape)).toThrow("ClickHouse answered column 'time' with 1 values, 'id' with 2");
    expect(() => rowsOf([1, 2], shape)).toThrow(/^ClickHouse's answer is not JSONColumns: /);
  });

  it('reads usage columns with the same fields as usage rows', () => {
    expect(Object.keys(usageColumns).sort()).toEqual(Object.keys(usageRow.shape).sort());
  });
});
