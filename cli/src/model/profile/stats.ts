// Latency percentiles over a bounded set of timed runs.
export function percentile(sortedMs: readonly number[], p: number): number {
  if (!sortedMs.length) return 0;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] ?? 0;
}

export interface Latency {
  batch: number;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  /** Median CPU time of this process per run: steadier than wall time on a busy host. */
  cpuP50Ms: number;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for `correct` out of `total` (95 % for z = 1.96). */
export function wilson(correct: number, total: number, z = 1.96): Interval {
  if (total <= 0) return { low: 0, high: 1 };
  const p = correct / total;
  const z2 = z * z;
  const centre = (p + z2 / (2 * total)) / (1 + z2 / total);
  const half = (z / (1 + z2 / total)) * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * Newcombe's interval for the difference of two proportions a - b from their Wilson
 * intervals (method 10; it treats the two as independent, so it is wide for paired samples).
 */
export function differenceInterval(a: { correct: number; total: number }, b: { correct: number; total: number }, z = 1.96): Interval {
  const pa = a.correct / Math.max(1, a.total);
  const pb = b.correct / Math.max(1, b.total);
  const wa = wilson(a.correct, a.total, z);
  const wb = wilson(b.correct, b.total, z);
  const d = pa - pb;
  return { low: d - Math.sqrt((pa - wa.low) ** 2 + (wb.high - pb) ** 2), high: d + Math.sqrt((wa.high - pa) ** 2 + (pb - wb.low) ** 2) };
}
