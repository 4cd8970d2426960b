/** Prices: the shipped list, tenant overrides, and integer micro-USD cost. Pure, no I/O. */
export * from './cost.js';
export * from './price-list.js';
export * from './price-table.js';
export * from './price-span.js';
