// Measured service time per batch size for one executor: an exponentially weighted moving
// average per size, seeded with a prior so the first dispatches are sensible.

export class ServiceTimes {
  readonly #alpha: number;
  #priorMs: number;
  readonly #rawPriorMs: number;
  readonly #measured = new Map<number, number>();

  /** `priorMs`: expected time of a batch of one before anything is measured. */
  constructor(priorMs: number, alpha = 0.2) {
    this.#priorMs = priorMs;
    this.#rawPriorMs = priorMs;
    this.#alpha = alpha;
  }

  /** Measured batch-of-one time over the prior as given; undefined before that is measured. */
  priorBias(): number | undefined {
    const one = this.#measured.get(1);
    return one === undefined || !(this.#rawPriorMs > 0) ? undefined : one / this.#rawPriorMs;
  }

  /**
   * Scales the prior by how far other executors' priors were from what they measured. Priors
   * come from a warm-up on a synthetic input (free dimensions set to 1), so they compare with
   * each other far better than with a real request: a recogniser's 2.5 ms prior against its
   * 42 ms requests. Once one executor has measured, the others' priors are read on its scale.
   */
  calibratePrior(bias: number): void {
    if (Number.isFinite(bias) && bias > 0) this.#priorMs = this.#rawPriorMs * bias;
  }

  has(batchRows: number): boolean {
    return this.#measured.has(batchRows);
  }

  observe(batchRows: number, ms: number): void {
    const old = this.#measured.get(batchRows);
    this.#measured.set(batchRows, old === undefined ? ms : old + this.#alpha * (ms - old));
  }

  /**
   * Expected time of a batch of `rows`. An unmeasured size scales the nearest measured one
   * linearly, which overestimates large batches and so errs towards not overloading a lane.
   */
  estimate(rows: number): number {
    const exact = this.#measured.get(rows);
    if (exact !== undefined) return exact;
    let best: number | undefined;
    for (const size of this.#measured.keys()) {
      if (best === undefined || Math.abs(size - rows) < Math.abs(best - rows)) best = size;
    }
    if (best === undefined) return this.#priorMs * rows;
    return ((this.#measured.get(best) ?? this.#priorMs) * rows) / best;
  }

  /**
   * The batch size with the most rows per ms among what was measured (batch 1 from the
   * prior if not measured). `maxBatch` until it has been measured once: batching is tried
   * before it is judged. A model whose batches cost more per row than single runs (small
   * models on a CPU) ends up at 1.
   */
  preferredBatch(maxBatch: number): number {
    if (maxBatch <= 1) return 1;
    if (!this.#measured.has(maxBatch)) return maxBatch;
    let best = 1;
    let bestRate = 1 / (this.#measured.get(1) ?? this.#priorMs);
    for (const size of this.#measured.keys()) {
      if (size > maxBatch) continue;
      const rate = size / this.estimate(size);
      if (rate > bestRate * 1.02 || (rate >= bestRate && size > best)) {
        best = size;
        bestRate = rate;
      }
    }
    return best;
  }

  /** Expected time to run `rows` queued rows in batches of at most `maxBatch`. */
  work(rows: number, maxBatch: number): number {
    if (rows <= 0) return 0;
    const full = Math.floor(rows / maxBatch);
    const rest = rows % maxBatch;
    return full * this.estimate(maxBatch) + (rest > 0 ? this.estimate(rest) : 0);
  }
}
