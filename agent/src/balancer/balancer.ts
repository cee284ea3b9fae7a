// Dispatches the requests of one workload over its executors (one per accelerator session):
// each request goes to the executor with the least expected completion time, requests wait
// in that executor's queue to be batched up to `maxBatch` rows within `maxQueueDelayMs`
// (Triton's dynamic batcher), the total queue is bounded, and expired requests never run.
import { DeadlineExceededError, ModelNotReadyError, OverloadedError } from '../workloads/errors.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { LatencyWindow, type LatencySummary } from './latency-window.ts';
import { ServiceTimes } from './service-time.ts';

export interface Executor<T, R> {
  id: string;
  /** Accelerator it runs on; several executors may share one. */
  acceleratorId: string;
  /** Expected ms for a batch of one before anything is measured. */
  priorMs: number;
  /** Runs a batch; resolves with one result per item, in order. */
  run(items: T[]): Promise<R[]>;
}

export const POLICIES = ['least-completion', 'round-robin'] as const;
export type Policy = (typeof POLICIES)[number];

export interface BalancerOptions<T, R> {
  /** Names the workload in errors. */
  name: string;
  executors: readonly Executor<T, R>[];
  /** Rows per batch at most; 1 disables batching. */
  maxBatch: number;
  /** How long the oldest request may wait for a batch to fill, ms. */
  maxQueueDelayMs: number;
  /** Requests queued over all executors at most; more are refused with OverloadedError. */
  maxQueue: number;
  /** Rows of a request (its batch dimension); 1 when not given. */
  rowsOf?: (item: T) => number;
  /** `round-robin` exists as a baseline for the benchmark. */
  policy?: Policy;
  clock?: Clock;
  /** Window of the latency percentiles, ms. */
  latencyWindowMs?: number;
}

export interface SubmitOptions {
  /** Time budget from now, ms; the request fails with DeadlineExceededError if not started by then. */
  timeoutMs?: number;
}

export interface LaneLoad {
  executorId: string;
  acceleratorId: string;
  /** Busy time since the previous call, ms, and the length of that interval. */
  busyMs: number;
  intervalMs: number;
  queued: number;
}

interface Pending<T, R> {
  item: T;
  rows: number;
  enqueuedAt: number;
  timer: TimerHandle | null;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

interface Lane<T, R> {
  exec: Executor<T, R>;
  times: ServiceTimes;
  queue: Pending<T, R>[];
  queuedRows: number;
  busy: boolean;
  inflightRows: number;
  startedAt: number;
  batchTimer: TimerHandle | null;
  busyMs: number;
  lastLoadAt: number;
  /** Rows per batch for this lane now: maxBatch, or less when measurements show batching does not pay. */
  batchLimit: number;
  dispatches: number;
}

/**
 * Every this many batches a lane probes one step from its current batch size, twice or half
 * it in turn, so a cost that changed (or a misleading first measurement) gets corrected; one
 * step only, so a probe costs little.
 */
const PROBE_EVERY = 64;

export class Balancer<T, R> {
  readonly #opts: Required<Pick<BalancerOptions<T, R>, 'name' | 'maxBatch' | 'maxQueueDelayMs' | 'maxQueue' | 'policy'>>;
  readonly #rowsOf: (item: T) => number;
  readonly #clock: Clock;
  readonly #lanes: Lane<T, R>[];
  readonly #latency: LatencyWindow;
  #queued = 0;
  #inflight = 0;
  #rr = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: BalancerOptions<T, R>) {
    if (options.executors.length === 0) throw new RangeError('a balancer needs at least one executor');
    this.#opts = {
      name: options.name,
      maxBatch: Math.max(1, Math.floor(options.maxBatch)),
      maxQueueDelayMs: Math.max(0, options.maxQueueDelayMs),
      maxQueue: Math.max(1, Math.floor(options.maxQueue)),
      policy: options.policy ?? 'least-completion',
    };
    this.#rowsOf = options.rowsOf ?? (() => 1);
    this.#clock = options.clock ?? realClock();
    this.#latency = new LatencyWindow(options.latencyWindowMs ?? 60_000);
    const now = this.#clock.now();
    this.#lanes = options.executors.map((exec) => ({
      exec,
      times: new ServiceTimes(exec.priorMs),
      queue: [],
      queuedRows: 0,
      busy: false,
      inflightRows: 0,
      startedAt: 0,
      batchTimer: null,
      busyMs: 0,
      lastLoadAt: now,
      batchLimit: this.#opts.maxBatch,
      dispatches: 0,
    }));
  }

  get queued(): number {
    return this.#queued;
  }

  submit(item: T, options: SubmitOptions = {}): Promise<R> {
    if (this.#closed) return Promise.reject(new ModelNotReadyError(this.#opts.name, 'Draining'));
    if (this.#queued >= this.#opts.maxQueue) return Promise.reject(new OverloadedError(this.#queued, this.#opts.maxQueue));
    const rows = Math.max(1, this.#rowsOf(item));
    return new Promise<R>((resolve, reject) => {
      const now = this.#clock.now();
      const lane = this.#choose(rows, now);
      const p: Pending<T, R> = { item, rows, enqueuedAt: now, timer: null, resolve, reject };
      if (options.timeoutMs !== undefined) {
        p.timer = this.#clock.setTimer(() => this.#expire(p), options.timeoutMs);
      }
      lane.queue.push(p);
      lane.queuedRows += rows;
      this.#queued++;
      this.#pump(lane);
    });
  }

  /** Stops taking requests and resolves once every queued and running request finished. */
  drain(): Promise<void> {
    this.#closed = true;
    if (this.#queued === 0 && this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  latency(): LatencySummary | null {
    return this.#latency.summary(this.#clock.now());
  }

  /** Busy time and queue per executor since the previous call. */
  takeLoad(): LaneLoad[] {
    const now = this.#clock.now();
    return this.#lanes.map((lane) => {
      let busyMs = lane.busyMs;
      if (lane.busy) busyMs += now - Math.max(lane.startedAt, lane.lastLoadAt);
      const load = {
        executorId: lane.exec.id,
        acceleratorId: lane.exec.acceleratorId,
        busyMs,
        intervalMs: now - lane.lastLoadAt,
        queued: lane.queue.length,
      };
      lane.busyMs = 0;
      lane.lastLoadAt = now;
      return load;
    });
  }

  /** Rows for the next batch of this lane: its measured best, or a probe one step away. */
  #batchLimit(lane: Lane<T, R>): number {
    const max = this.#opts.maxBatch;
    const current = lane.batchLimit;
    if (max <= 1) return current;
    // Early on, every 4th batch measures a power-of-two size not measured yet.
    if (lane.dispatches < PROBE_EVERY && lane.dispatches % 4 === 3) {
      for (let size = 1; size < max; size *= 2) if (!lane.times.has(size)) return size;
    }
    if (lane.dispatches % PROBE_EVERY !== PROBE_EVERY - 1) return current;
    const up = Math.min(max, current * 2);
    const down = Math.max(1, Math.floor(current / 2));
    const preferUp = Math.floor(lane.dispatches / PROBE_EVERY) % 2 === 0;
    if (preferUp) return up !== current ? up : down;
    return down !== current ? down : up;
  }

  /** Expected ms until a request of `rows` added to this lane now would complete. */
  #completion(lane: Lane<T, R>, rows: number, now: number): number {
    const remaining = lane.busy ? Math.max(0, lane.times.estimate(lane.inflightRows) - (now - lane.startedAt)) : 0;
    return remaining + lane.times.work(lane.queuedRows + rows, lane.batchLimit);
  }

  #choose(rows: number, now: number): Lane<T, R> {
    if (this.#opts.policy === 'round-robin') {
      const lane = this.#lanes[this.#rr % this.#lanes.length]!;
      this.#rr++;
      return lane;
    }
    let best = this.#lanes[0]!;
    let bestMs = this.#completion(best, rows, now);
    for (let i = 1; i < this.#lanes.length; i++) {
      const lane = this.#lanes[i]!;
      const ms = this.#completion(lane, rows, now);
      if (ms < bestMs) {
        best = lane;
        bestMs = ms;
      }
    }
    return best;
  }

  #expire(p: Pending<T, R>): void {
    // Searched in every lane: stealing may have moved it.
    const lane = this.#lanes.find((l) => l.queue.includes(p));
    if (!lane) return;
    const i = lane.queue.indexOf(p);
    lane.queue.splice(i, 1);
    lane.queuedRows -= p.rows;
    this.#queued--;
    p.reject(new DeadlineExceededError(this.#clock.now() - p.enqueuedAt));
    this.#maybeIdle();
  }

  /** `due`: the batch timer fired, so the oldest request has waited maxQueueDelayMs. */
  #pump(lane: Lane<T, R>, due = false): void {
    if (lane.busy || lane.queue.length === 0) return;
    const now = this.#clock.now();
    const oldest = lane.queue[0]!;
    const waited = now - oldest.enqueuedAt;
    const limit = this.#batchLimit(lane);
    // `due` rather than comparing times again: float rounding could leave `waited` a hair short.
    if (!due && lane.queuedRows < limit && waited < this.#opts.maxQueueDelayMs && limit > 1) {
      if (!lane.batchTimer) {
        lane.batchTimer = this.#clock.setTimer(() => {
          lane.batchTimer = null;
          this.#pump(lane, true);
        }, this.#opts.maxQueueDelayMs - waited);
      }
      return;
    }
    if (lane.batchTimer) {
      this.#clock.clearTimer(lane.batchTimer);
      lane.batchTimer = null;
    }
    const batch: Pending<T, R>[] = [];
    let rows = 0;
    while (lane.queue.length > 0) {
      const next = lane.queue[0]!;
      if (batch.length > 0 && rows + next.rows > limit) break;
      lane.queue.shift();
      if (next.timer) this.#clock.clearTimer(next.timer);
      batch.push(next);
      rows += next.rows;
    }
    lane.queuedRows -= rows;
    this.#queued -= batch.length;
    this.#inflight += batch.length;
    lane.busy = true;
    lane.dispatches++;
    lane.inflightRows = rows;
    lane.startedAt = now;
    void this.#run(lane, batch, rows);
  }

  async #run(lane: Lane<T, R>, batch: Pending<T, R>[], rows: number): Promise<void> {
    let results: R[] | null = null;
    let failure: unknown = null;
    try {
      results = await lane.exec.run(batch.map((p) => p.item));
    } catch (err) {
      failure = err;
    }
    const end = this.#clock.now();
    const took = end - lane.startedAt;
    lane.busyMs += end - Math.max(lane.startedAt, lane.lastLoadAt);
    if (failure === null) {
      lane.times.observe(rows, took);
      lane.batchLimit = lane.times.preferredBatch(this.#opts.maxBatch);
      if (rows === 1) this.#calibratePriors();
    }
    lane.busy = false;
    this.#inflight -= batch.length;
    if (failure === null && results?.length !== batch.length) {
      failure = new Error(`executor ${lane.exec.id} returned ${results?.length ?? 0} results for ${batch.length} requests`);
    }
    batch.forEach((p, i) => {
      if (failure !== null || results === null) {
        p.reject(failure);
        return;
      }
      this.#latency.record(end, end - p.enqueuedAt);
      p.resolve(results[i] as R);
    });
    if (lane.queue.length === 0) this.#steal(lane, end);
    this.#pump(lane);
    this.#maybeIdle();
  }

  /**
   * An idle lane takes queued requests from the tail of other lanes when it would finish
   * them sooner: estimates made at enqueue time drift, and this corrects them.
   */
  #steal(lane: Lane<T, R>, now: number): void {
    if (this.#opts.policy !== 'least-completion') return;
    for (const other of this.#lanes) {
      while (other !== lane && other.queue.length > 0) {
        const tail = other.queue[other.queue.length - 1]!;
        const there = this.#completion(other, 0, now);
        const here = this.#completion(lane, tail.rows, now);
        if (here >= there) break;
        other.queue.pop();
        other.queuedRows -= tail.rows;
        lane.queue.unshift(tail);
        lane.queuedRows += tail.rows;
      }
    }
    if (lane.queue.length > 1) lane.queue.sort((a, b) => a.enqueuedAt - b.enqueuedAt);
  }

  /**
   * Lanes that have not measured a batch of one read their prior on the scale of those that
   * have (geometric mean of measured over prior), so a prior far below real requests does not
   * draw requests to a lane until it has run one.
   */
  #calibratePriors(): void {
    let logSum = 0;
    let n = 0;
    for (const l of this.#lanes) {
      const bias = l.times.priorBias();
      if (bias === undefined) continue;
      logSum += Math.log(bias);
      n++;
    }
    if (n === 0 || n === this.#lanes.length) return;
    const bias = Math.exp(logSum / n);
    for (const l of this.#lanes) if (l.times.priorBias() === undefined) l.times.calibratePrior(bias);
  }

  #maybeIdle(): void {
    if (this.#queued > 0 || this.#inflight > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
