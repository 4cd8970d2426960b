import { describe, expect, it } from 'vitest';
import { csvField, microsToUsd, toCsv } from './csv.js';

describe('CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['with,comma', '"with,comma"'],
    ['with "quote"', '"with ""quote"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['', ''],
  ])('writes the text %j as %j', (value, field) => {
    expect(csvField(value)).toBe(field);
  });

  it('writes numbers as they are (a negative number is not a formula) and null as empty', () => {
    expect(csvField(-5)).toBe('-5');
    expect(csvField(123456789012)).toBe('123456789012');
    expect(csvField(null)).toBe('');
  });

  it('ends every line, the last too, with CRLF', () => {
    expect(toCsv(['a', 'b'], [['x', 1], [null, 2]])).toBe('a,b\r\nx,1\r\n,2\r\n');
  });

  it.each([
    [0, '0.000000'],
    [1, '0.000001'],
    [1_500_000, '1.500000'],
    [9_750, '0.009750'],
    [123_456_789_012, '123456.789012'],
    [Number.MAX_SAFE_INTEGER, '9007199254.740991'],
  ])('writes %d micro-USD as $%s exactly', (micros, usd) => {
    expect(microsToUsd(micros)).toBe(usd);
  });

  it('refuses amounts that are not whole micro-USD', () => {
    expect(() => microsToUsd(1.5)).toThrow(RangeError);
    expect(() => microsToUsd(-1)).toThrow(RangeError);
  });
});
