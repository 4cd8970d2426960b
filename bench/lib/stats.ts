/**
 * Summary statistics for benchmark samples.
 *
 * Percentiles are nearest-rank, not interpolated: the p99 of 200 trip latencies is a latency
 * that actually happened, which is what a reader of BENCHMARKS.md assumes it is.
 */

export interface Distribution {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; `p` in [0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Events per second; NaN rather than Infinity when nothing measurable elapsed. */
export function perSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN;
}

export const MiB = 1024 * 1024;

/**
 * Peak and final resident memory of this process, sampled on a timer. A peak read only at the
 * end would miss the high-water mark of a drain that has already released its batches.
 */
export function rssSampler(intervalMs = 100) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  timer.unref();
  return {
    stop(): { peakMiB: number; endMiB: number; heapUsedMiB: number } {
      clearInterval(timer);
      const end = process.memoryUsage();
      peak = Math.max(peak, end.rss);
      return { peakMiB: peak / MiB, endMiB: end.rss / MiB, heapUsedMiB: end.heapUsed / MiB };
    },
  };
}
