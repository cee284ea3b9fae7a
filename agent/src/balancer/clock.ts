// Time source of the balancer. Production uses the real clock; tests and the benchmark's
// simulated fleet use SimClock, so results do not depend on timer jitter of a busy machine.

export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  sleep(ms: number): Promise<void>;
}

let nextId = 1;

export function realClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => performance.now(),
    setTimer(fn, delayMs) {
      const id = nextId++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, Math.max(0, delayMs));
      timers.set(id, t);
      return { id };
    },
    clearTimer(handle) {
      const t = timers.get(handle.id);
      if (t) clearTimeout(t);
      timers.delete(handle.id);
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

interface SimTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Discrete-event clock: time jumps to the next timer once every promise chain has settled.
 * Only for code whose waiting all goes through this clock (no real I/O).
 */
export class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: SimTimer[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const t: SimTimer = { id: nextId++, at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#timers.push(t);
    return { id: t.id };
  }

  clearTimer(handle: TimerHandle): void {
    const i = this.#timers.findIndex((t) => t.id === handle.id);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms));
  }

  /** Fires timers in time order until `done()` holds or no timer is left or `limitMs` passes. */
  async run(done: () => boolean, limitMs = Number.POSITIVE_INFINITY): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (done() || this.#timers.length === 0) return;
      let next = 0;
      for (let i = 1; i < this.#timers.length; i++) {
        const a = this.#timers[i]!;
        const b = this.#timers[next]!;
        if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) next = i;
      }
      const t = this.#timers[next]!;
      if (t.at > limitMs) return;
      this.#timers.splice(next, 1);
      this.#now = t.at;
      t.fn();
    }
  }
}
