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
}

/** Times `fn` up to `runs` times (after `warmup`), stopping early once `budgetMs` is spent. */
export async function timeRuns(fn: () => Promise<unknown>, batch: number, runs: number, budgetMs: number, warmup = 2): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < runs && (times.length < 3 || performance.now() - started < budgetMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { batch, runs: times.length, p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
