/**
 * Epoch milliseconds as ISO 8601 (UTC), exactly as `Date.prototype.toISOString` writes them,
 * but about 5x faster for the common case: the date part comes from a small cache per day and
 * the time is plain arithmetic (pages of runs, spans and trips write many). The causal graph,
 * with tens of thousands, has ClickHouse write them instead (storage/tables/json-rows.ts,
 * `isoTimeSql`). Anything outside years 1970-9999 or not a whole millisecond takes the Date
 * path, so the output never differs.
 */
const DAY_MS = 86_400_000;
const LAST_FAST_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const CACHED_DAYS = 4_096;
const dates = new Map<number, string>();

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

export function iso(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > LAST_FAST_MS) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let date = dates.get(day);
  if (date === undefined) {
    if (dates.size >= CACHED_DAYS) dates.clear();
    date = new Date(day * DAY_MS).toISOString().slice(0, 11); // "YYYY-MM-DDT"
    dates.set(day, date);
  }
  const inDay = ms - day * DAY_MS;
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor((inDay % 3_600_000) / 60_000);
  const seconds = Math.floor((inDay % 60_000) / 1_000);
  return `${date}${two(hours)}:${two(minutes)}:${two(seconds)}.${three(inDay % 1_000)}Z`;
}
