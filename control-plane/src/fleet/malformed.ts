// Malformed fleet messages: counted by kind, logged once per sender and kind per window, dropped.
import type { Logger } from 'pino';
import type { Metrics, MalformedKind } from '../metrics.ts';

const MAX_TRACKED_SENDERS = 10_000;

export class MalformedReporter {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #lastLogged = new Map<string, number>();

  constructor(metrics: Metrics, log: Logger, windowMs = 60_000) {
    this.#metrics = metrics;
    this.#log = log;
    this.#windowMs = windowMs;
  }

  report(kind: MalformedKind, sender: string, problem: string): void {
    this.#metrics.malformedMessages.inc({ kind });
    const id = `${kind}|${sender}`;
    const now = Date.now();
    const last = this.#lastLogged.get(id);
    if (last !== undefined && now - last < this.#windowMs) return;
    // A flood of distinct senders must not grow memory without bound.
    if (this.#lastLogged.size >= MAX_TRACKED_SENDERS) this.#prune(now);
    this.#lastLogged.set(id, now);
    this.#log.warn({ kind, node: sender, problem: problem.slice(0, 500) }, 'dropped a malformed message');
  }

  #prune(now: number): void {
    for (const [id, t] of this.#lastLogged) if (now - t >= this.#windowMs) this.#lastLogged.delete(id);
    if (this.#lastLogged.size >= MAX_TRACKED_SENDERS) this.#lastLogged.clear();
  }
}
