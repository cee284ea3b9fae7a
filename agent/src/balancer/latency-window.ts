// Latency percentiles and request rate over a sliding time window, in bounded memory.

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  rps: number;
  count: number;
}

export class LatencyWindow {
  readonly #windowMs: number;
  readonly #at: Float64Array;
  readonly #ms: Float64Array;
  #next = 0;
  #size = 0;

  /** Keeps at most `capacity` samples, and reports only those younger than `windowMs`. */
  constructor(windowMs = 60_000, capacity = 4096) {
    this.#windowMs = windowMs;
    this.#at = new Float64Array(capacity);
    this.#ms = new Float64Array(capacity);
  }

  record(nowMs: number, latencyMs: number): void {
    this.#at[this.#next] = nowMs;
    this.#ms[this.#next] = latencyMs;
    this.#next = (this.#next + 1) % this.#at.length;
    this.#size = Math.min(this.#size + 1, this.#at.length);
  }

  summary(nowMs: number): LatencySummary | null {
    const values: number[] = [];
    let oldest = nowMs;
    for (let i = 0; i < this.#size; i++) {
      const at = this.#at[i] ?? 0;
      if (nowMs - at > this.#windowMs) continue;
      values.push(this.#ms[i] ?? 0);
      oldest = Math.min(oldest, at);
    }
    if (values.length === 0) return null;
    values.sort((a, b) => a - b);
    const span = Math.max(nowMs - oldest, 1000);
    return {
      p50Ms: percentile(values, 0.5),
      p99Ms: percentile(values, 0.99),
      rps: (values.length * 1000) / span,
      count: values.length,
    };
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}
