// Early heartbeats, rate-limited: when a workload's phase or failure changes, the control plane
// should hear it now rather than at the next tick, but a burst of changes (a deployment of
// many workloads) must cost one message, and never more than one per `gapMs` after the last
// heartbeat of any kind.

export interface NudgerOptions {
  /** Sends the heartbeat; errors are the sender's to log. */
  send: () => void;
  /** Least time between the last heartbeat and an early one, ms. */
  gapMs: () => number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export interface Nudger {
  /** Asks for an early heartbeat; coalesces with one already due. */
  nudge(): void;
  /** Records that a heartbeat went out (a regular one counts too). */
  sent(): void;
  /** Early heartbeats sent so far. */
  readonly count: number;
  stop(): void;
}

export function createNudger(o: NudgerOptions): Nudger {
  const now = o.now ?? (() => performance.now());
  const setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  let lastSentMs = Number.NEGATIVE_INFINITY;
  let timer: unknown;
  let count = 0;
  let stopped = false;
  return {
    nudge() {
      if (stopped || timer !== undefined) return;
      const wait = Math.max(0, lastSentMs + o.gapMs() - now());
      timer = setTimer(() => {
        timer = undefined;
        if (stopped) return;
        count += 1;
        o.send();
      }, wait);
    },
    sent() {
      lastSentMs = now();
    },
    get count() {
      return count;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
    },
  };
}
