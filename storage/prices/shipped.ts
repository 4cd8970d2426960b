/** Reads the shipped price list (prices.csv beside this file); the parsing is pure (streams/pricing). */
import { readFileSync } from 'node:fs';
import { parsePriceList, type ListPrice } from '../../streams/pricing/index.js';

export const SHIPPED_PRICES_FILE = new URL('./prices.csv', import.meta.url);

let cached: readonly ListPrice[] | null = null;

/** The list this build ships; read once per process, so every reader in it prices alike. */
export function shippedPrices(): readonly ListPrice[] {
  cached ??= Object.freeze(parsePriceList(readFileSync(SHIPPED_PRICES_FILE, 'utf8')));
  return cached;
}
