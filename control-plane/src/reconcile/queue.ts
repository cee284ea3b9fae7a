// A de-duplicated, rate-limited work queue as controller-runtime has it: a key waits in the
// queue at most once, is never handled by two workers at once, and a key that changes while
// it is being handled runs again afterwards.
import { inReconcile } from '../log-context.ts';
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
  /** Called when the last reconcile finished and no key waits: lower-priority work may run. */
  onIdle?: () => void;
  /** Work-queue metrics as client-go's workqueue reports them. */
  metrics?: QueueMetrics;
}

/** What client-go's workqueue measures; durations in seconds. */
export interface QueueMetrics {
  /** A key was added (counted even when it was already waiting, as client-go does). */
  added(): void;
  /** A key left the queue for a worker after waiting this long. */
  queued(seconds: number): void;
  /** A worker finished a key after this long. */
  worked(seconds: number): void;
  /** A key was added back with rate-limited backoff. */
  retried(): void;
}

/** Reconciles in progress, read at scrape time (client-go's unfinished work gauges). */
export interface Unfinished {
  /** Seconds of work in progress, summed over the keys being handled. */
  totalSeconds: number;
  /** How long the longest-running key has been handled. */
  longestSeconds: number;
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
  readonly #onIdle: QueueOptions['onIdle'];
  readonly #metrics: QueueMetrics | undefined;
  /** When each waiting key was first added, for the queue-duration metric. */
  readonly #addedAt = new Map<string, number>();
  /** When each key in progress was handed to its worker. */
  readonly #startedAt = new Map<string, number>();
  #waiters: ((key: string | null) => void)[] = [];
  #shuttingDown = false;
  #running: Promise<void>[] = [];

  constructor(options: QueueOptions = {}) {
    this.#workers = options.workers ?? 1;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.#onResult = options.onResult ?? (() => {});
    this.#onDepth = options.onDepth ?? (() => {});
    this.#onIdle = options.onIdle;
    this.#metrics = options.metrics;
  }

  unfinished(): Unfinished {
    const now = performance.now();
    let totalSeconds = 0;
    let longestSeconds = 0;
    for (const started of this.#startedAt.values()) {
      const s = (now - started) / 1000;
      totalSeconds += s;
      if (s > longestSeconds) longestSeconds = s;
    }
    return { totalSeconds, longestSeconds };
  }

  /** A reconcile is running or a key waits for a worker (delayed keys aside). */
  get busy(): boolean {
    return this.#queue.length > 0 || this.#processing.size > 0;
  }

  /** The key waits for a worker, or changed while its reconcile runs: another reconcile of it is coming. */
  pending(key: string): boolean {
    return this.#dirty.has(key);
  }

  /** Waiting keys, not counting the ones in progress or delayed. */
  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shuttingDown) return;
    this.#metrics?.added();
    this.#add(key);
  }

  #add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, performance.now());
    // A key being handled is queued again when its worker finishes.
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#taken(key);
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
    if (!this.#shuttingDown) this.#metrics?.retried();
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
      this.#taken(key);
      this.#onDepth(this.#queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #taken(key: string): void {
    const now = performance.now();
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#metrics?.queued((now - added) / 1000);
    this.#startedAt.set(key, now);
  }

  #done(key: string): void {
    const started = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (started !== undefined) this.#metrics?.worked((performance.now() - started) / 1000);
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.#add(key);
    }
    if (!this.busy) this.#onIdle?.();
  }

  async #work(reconcile: Reconciler): Promise<void> {
    for (;;) {
      const key = await this.#get();
      if (key === null) return;
      await inReconcile(() => this.#handle(key, reconcile));
    }
  }

  /** One reconcile, under its own reconcileID (every log line inside carries it). */
  async #handle(key: string, reconcile: Reconciler): Promise<void> {
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
