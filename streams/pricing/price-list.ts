/**
 * The shipped price list: a CSV data file (storage/prices/prices.csv) parsed into validated
 * rows. Pure: the caller reads the file. A bad row fails the whole list with its line and
 * field, because a price table with a silently skipped row would price that model at nothing.
 */
import type { Rates } from './cost.js';

export interface ListPrice extends Rates {
  provider: string;
  model: string;
  /** UTC milliseconds from which this price applies, until the next row of the same model. */
  effectiveFromMs: number;
  /** Where the price comes from: a URL or a note. */
  source: string;
}

export const PRICE_LIST_COLUMNS = ['provider', 'model', 'effective_from', 'input_micros_per_mtok', 'output_micros_per_mtok', 'cached_input_micros_per_mtok', 'source'] as const;

export class PriceListError extends Error {
  constructor(readonly line: number, readonly field: string, message: string) {
    super(`price list line ${line}, ${field}: ${message}`);
    this.name = 'PriceListError';
  }
}

/** Lower-case names without separators that would make keys or CSV ambiguous. */
const NAME = /^[a-z0-9][a-z0-9._:-]*$/;
/** A day (UTC midnight) or an instant with a zone. */
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

export function parseEffectiveFrom(text: string): number | null {
  if (!DAY.test(text) && !INSTANT.test(text)) return null;
  const ms = Date.parse(DAY.test(text) ? `${text}T00:00:00Z` : text);
  return Number.isFinite(ms) ? ms : null;
}

/** Whole micro-USD per million tokens: what price fields must be. */
export function isRate(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Why a set of rates is not a price, or null: a cached price above the input price is a typo. */
export function ratesProblem(rates: Rates): { field: keyof Rates; message: string } | null {
  for (const field of ['inputMicrosPerMTok', 'outputMicrosPerMTok', 'cachedInputMicrosPerMTok'] as const) {
    if (!isRate(rates[field])) return { field, message: `must be a whole number of micro-USD per million tokens, 0 or more (got ${rates[field]})` };
  }
  if (rates.cachedInputMicrosPerMTok > rates.inputMicrosPerMTok) {
    return { field: 'cachedInputMicrosPerMTok', message: `cached input (${rates.cachedInputMicrosPerMTok}) costs more than uncached input (${rates.inputMicrosPerMTok})` };
  }
  return null;
}

const RATE_COLUMNS: Record<keyof Rates, string> = {
  inputMicrosPerMTok: 'input_micros_per_mtok',
  outputMicrosPerMTok: 'output_micros_per_mtok',
  cachedInputMicrosPerMTok: 'cached_input_micros_per_mtok',
};

/**
 * Parses the CSV: a header naming PRICE_LIST_COLUMNS in order, then one price per line; `#`
 * lines and blank lines are notes. The source is the last column and keeps any commas.
 */
export function parsePriceList(text: string): ListPrice[] {
  const lines = text.split(/\r?\n/);
  const headerIndex = lines.findIndex((line) => line.trim() !== '' && !line.startsWith('#'));
  if (headerIndex < 0) throw new PriceListError(1, 'header', 'the file is empty');
  if (lines[headerIndex]!.trim() !== PRICE_LIST_COLUMNS.join(',')) {
    throw new PriceListError(headerIndex + 1, 'header', `expected '${PRICE_LIST_COLUMNS.join(',')}'`);
  }
  const prices: ListPrice[] = [];
  const seen = new Set<string>();
  for (let i = headerIndex + 1; i < lines.length; i += 1) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const number = i + 1;
    const cells = line.split(',');
    if (cells.length < PRICE_LIST_COLUMNS.length) throw new PriceListError(number, 'row', `expected ${PRICE_LIST_COLUMNS.length} columns, found ${cells.length}`);
    const [provider, model, effectiveFrom, input, output, cachedInput] = cells.map((c) => c.trim()) as string[];
    const source = cells.slice(PRICE_LIST_COLUMNS.length - 1).join(',').trim();
    if (!NAME.test(provider!)) throw new PriceListError(number, 'provider', `'${provider}' is not a lower-case name`);
    if (!NAME.test(model!)) throw new PriceListError(number, 'model', `'${model}' is not a lower-case name`);
    const effectiveFromMs = parseEffectiveFrom(effectiveFrom!);
    if (effectiveFromMs === null) throw new PriceListError(number, 'effective_from', `'${effectiveFrom}' is not a date (2025-01-31) or an instant with a zone`);
    const rates = { inputMicrosPerMTok: Number(input), outputMicrosPerMTok: Number(output), cachedInputMicrosPerMTok: Number(cachedInput) };
    for (const [field, column] of Object.entries(RATE_COLUMNS) as [keyof Rates, string][]) {
      const cell = { inputMicrosPerMTok: input, outputMicrosPerMTok: output, cachedInputMicrosPerMTok: cachedInput }[field]!;
      if (!/^\d+$/.test(cell)) throw new PriceListError(number, column, `'${cell}' is not a whole number of micro-USD per million tokens`);
    }
    const problem = ratesProblem(rates);
    if (problem) throw new PriceListError(number, RATE_COLUMNS[problem.field], problem.message);
    if (source === '') throw new PriceListError(number, 'source', 'say where the price comes from (a URL or a note)');
    const key = `${provider}/${model}@${effectiveFromMs}`;
    if (seen.has(key)) throw new PriceListError(number, 'effective_from', `a second price for ${provider}/${model} from ${effectiveFrom}`);
    seen.add(key);
    prices.push({ provider: provider!, model: model!, effectiveFromMs, ...rates, source });
  }
  return prices;
}
