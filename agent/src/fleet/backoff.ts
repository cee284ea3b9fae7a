// Retry delays: exponential with jitter, so a fleet restarted at once does not knock on the
// control plane in lockstep.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const HELLO_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

/** Delay before retry number `attempt` (0-based): half fixed, half random ("equal jitter"). */
export function backoffMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
