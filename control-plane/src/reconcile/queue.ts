// A de-duplicated, rate-limited work queue as controller-runtime has it: a key waits in the
// queue at most once, is never handled by two workers at once, and a key that changes while
// it is being handled runs again afterwards.
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';

export interface ReconcileResult {
  /** Come back after this long even if nothing changes. */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult>;

export const OUTCOMES = ['success', 'requeue', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface QueueOptions {
  workers?: number;
  rateLimiter?: RateLimiter;
  /** Called after each reconcile, for metrics and logs. */
  onResult?: (key: string, outcome: Outcome, durationMs: number, err?: unknown) => void;
  /** Called whenever the number of waiting keys changes. */
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys waiting in #queue, or changed while processing. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  readonly #rateLimiter: RateLimiter;
  readonly #workers: number;
  readonly #onResult: NonNullable<QueueOptions['onResult']>;
  readonly #onDepth: NonNullable<QueueOptions['onDepth']>;
  #waiters: ((key: string | null) => void)[] = [];
  #shuttingDown = false;
  #running: Promise<void>[] = [];

  constructor(options: QueueOptions = {}) {
    this.#workers = options.workers ?? 1;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.#onResult = options.onResult ?? (() => {});
    this.#onDepth = options.onDepth ?? (() => {});
  }

  /** Waiting keys, not counting the ones in progress or delayed. */
  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    // A key being handled is queued again when its worker finishes.
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#onDepth(this.#queue.length);
  }

  /** Adds the key after delayMs; an earlier pending time for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const readyAt = Date.now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#delayed.set(key, { readyAt, timer });
  }

  addRateLimited(key: string): void {
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  failures(key: string): number {
    return this.#rateLimiter.failures(key);
  }

  /** Starts the workers; resolves once they all stop after shutdown(). */
  start(reconcile: Reconciler): void {
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#work(reconcile));
  }

  /** Stops taking keys and waits for the reconciles in progress. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const w of this.#waiters) w(null);
    this.#waiters = [];
    await Promise.all(this.#running);
    this.#running = [];
  }

  #get(): Promise<string | null> {
    if (this.#shuttingDown) return Promise.resolve(null);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#onDepth(this.#queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  async #work(reconcile: Reconciler): Promise<void> {
    for (;;) {
      const key = await this.#get();
      if (key === null) return;
      const started = performance.now();
      try {
        const result = await reconcile(key);
        this.forget(key);
        if (result.requeueAfterMs !== undefined) {
          this.#onResult(key, 'requeue', performance.now() - started);
          this.addAfter(key, result.requeueAfterMs);
        } else {
          this.#onResult(key, 'success', performance.now() - started);
        }
      } catch (err) {
        // The queue owns retries: a failed reconcile comes back with per-key backoff.
        this.#onResult(key, 'error', performance.now() - started, err);
        this.addRateLimited(key);
      } finally {
        this.#done(key);
      }
    }
  }
}
