/** CSV (RFC 4180) for finance: exact integers, exact dollar strings, no spreadsheet formulas. */

export type CsvValue = string | number | null;

/**
 * One field: quoted when it holds a comma, quote or line break. A text value a spreadsheet
 * would run as a formula (=, +, -, @, tab, CR first) is prefixed with a quote mark: agent,
 * user and session ids come from agents, and a report must not execute them. Numbers are
 * written as they are.
 */
export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** Integer micro-USD as an exact dollar string: 1_500_000 -> "1.500000". */
export function microsToUsd(micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0) throw new RangeError(`not a non-negative integer of micro-USD: ${micros}`);
  return `${Math.trunc(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
}
