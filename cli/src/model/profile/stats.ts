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
