/**
 * Running totals (micro-USD, tokens) that stop at Number.MAX_SAFE_INTEGER instead of passing
 * it. Every span's count is a safe integer (the edges' zod schema and the decoder see to it),
 * but two of them can sum past 2^53, where a double no longer counts exactly and the state
 * changelog refuses to write the total (a crash the processor would replay forever). A total
 * that large is over every budget anyone can set, so holding it there decides the same.
 */
export function addCapped(total: number, amount: number): number {
  const sum = total + amount;
  return sum > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : sum;
}
