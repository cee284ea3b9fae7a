// A write queue keyed by object, level-based: a burst of writes becomes at most `concurrency`
// requests at a time, and each key's waiting writes collapse into one carrying the latest value.
// A write submitted while its key's write is running waits for a follow-up with its value, so
// every caller learns the outcome of a write that includes what it submitted.

export interface KeyedWriteQueueOptions<V, R> {
  /** Writes in flight at once, over all keys. */
  concurrency: number;
  write: (key: string, value: V) => Promise<R>;
}

interface Waiting<V, R> {
  value: V;
  waiters: { resolve: (r: R) => void; reject: (err: unknown) => void }[];
}

export class KeyedWriteQueue<V, R> {
  readonly #o: KeyedWriteQueueOptions<V, R>;
  /** Submitted and not started, by key; the order of first submission is kept. */
  readonly #waiting = new Map<string, Waiting<V, R>>();
  readonly #running = new Set<string>();
  readonly #idle: (() => void)[] = [];

  constructor(options: KeyedWriteQueueOptions<V, R>) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError(`concurrency must be a whole number >= 1, got ${options.concurrency}`);
    this.#o = options;
  }

  /** Keys waiting or being written. */
  get size(): number {
    return this.#waiting.size + this.#running.size;
  }

  has(key: string): boolean {
    return this.#waiting.has(key) || this.#running.has(key);
  }

  /** Resolves with the result of a write that carries `value` (or a later value of the key). */
  submit(key: string, value: V): Promise<R> {
    let w = this.#waiting.get(key);
    if (w) w.value = value;
    else {
      w = { value, waiters: [] };
      this.#waiting.set(key, w);
    }
    const entry = w;
    const done = new Promise<R>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    this.#pump();
    return done;
  }

  /** Resolves once nothing is waiting or running. */
  drained(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    if (this.#running.size >= this.#o.concurrency) return;
    for (const [key, w] of this.#waiting) {
      if (this.#running.size >= this.#o.concurrency) break;
      // One write per key at a time: a follow-up waits for the running one.
      if (this.#running.has(key)) continue;
      this.#waiting.delete(key);
      this.#running.add(key);
      void this.#run(key, w);
    }
  }

  async #run(key: string, w: Waiting<V, R>): Promise<void> {
    try {
      const r = await this.#o.write(key, w.value);
      for (const x of w.waiters) x.resolve(r);
    } catch (err) {
      for (const x of w.waiters) x.reject(err);
    } finally {
      this.#running.delete(key);
      this.#pump();
      if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}
