/** Numbers and tables for people: the terminal at the end of a run, and BENCHMARKS.md. */
import type { Figure, ScenarioResult, Unit } from './results.js';

/** Rates and counts as grouped integers, times with the precision they are measured to. */
export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '—';
  switch (unit) {
    case 'msgs/s': case 'events/s': case 'rows/s': case 'spans/s': case 'count': case 'bytes': case 'ns/op': case 'ns/span':
      return Math.round(value).toLocaleString('en-US');
    case 'ratio':
      return value.toFixed(2);
    case 'MiB': case 'MiB/s': case '%':
      return value.toFixed(1);
    case 'ms': case 'µs/span':
      return value >= 100 ? Math.round(value).toLocaleString('en-US') : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }
}

export const TABLE_HEADER = ['scenario', 'metric', 'value', 'unit', 'p50', 'p99', 'max', 'n', 'how'] as const;

export function figureRow(scenario: string, f: Figure): string[] {
  const d = f.distribution;
  return [
    scenario,
    f.metric,
    formatValue(f.value, f.unit),
    f.unit,
    d ? formatValue(d.p50, f.unit) : '',
    d ? formatValue(d.p99, f.unit) : '',
    d ? formatValue(d.max, f.unit) : '',
    d ? d.n.toLocaleString('en-US') : '',
    f.note ?? '',
  ];
}

/** Plain-text table with aligned columns; numeric columns right-aligned. */
export function textTable(results: readonly ScenarioResult[]): string {
  const rows = results.flatMap((r) => r.figures.map((f) => figureRow(r.scenario, f)));
  const all = [[...TABLE_HEADER], ...rows];
  const widths = TABLE_HEADER.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const numeric = new Set([2, 4, 5, 6, 7]);
  const line = (row: string[]) => row.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A markdown table of one scenario's figures (without the scenario column). */
export function markdownTable(result: ScenarioResult): string {
  const header = TABLE_HEADER.slice(1);
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => ([1, 3, 4, 5, 6].includes(i) ? '---:' : '---')).join(' | ')} |`,
    ...result.figures.map((f) => `| ${figureRow(result.scenario, f).slice(1).map(escape).join(' | ')} |`),
  ].join('\n');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
