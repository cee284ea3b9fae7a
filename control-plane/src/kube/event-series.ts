// Isomorphic Events become one series, as client-go's events.k8s.io recorder does, so a cause
// that flaps cannot flood etcd: the first occurrence creates an Event, the second gives it a
// series (count 2), later ones only count in memory and reach the API server with the periodic
// refresh; a series idle for `finishMs` ends, and the next occurrence starts a new Event.
// Pure: the caller writes what `observe` and `due` return.

/** client-go's values: a series is finished after 6 minutes idle and refreshed every 30. */
export const SERIES_FINISH_MS = 6 * 60_000;
export const SERIES_REFRESH_MS = 30 * 60_000;

export interface SeriesEntry {
  /** Name of the Event object the series lives in. */
  name: string;
  count: number;
  firstMs: number;
  lastObservedMs: number;
  /** When the series was last written to the API server. */
  writtenMs: number;
}

export type SeriesAction = { kind: 'create'; entry: SeriesEntry } | { kind: 'series'; entry: SeriesEntry } | { kind: 'none'; entry: SeriesEntry };

export interface SeriesOptions {
  finishMs?: number;
  refreshMs?: number;
  /** Most series remembered; the oldest go first (client-go keeps an LRU too). */
  maxEntries?: number;
}

export class EventSeries {
  readonly #entries = new Map<string, SeriesEntry>();
  readonly #finishMs: number;
  readonly #refreshMs: number;
  readonly #max: number;

  constructor(options: SeriesOptions = {}) {
    this.#finishMs = options.finishMs ?? SERIES_FINISH_MS;
    this.#refreshMs = options.refreshMs ?? SERIES_REFRESH_MS;
    this.#max = options.maxEntries ?? 4096;
  }

  /**
   * One occurrence of the event identified by `key` (regarding object, reason, type, note,
   * reporter): create an Event, write its series, or only count.
   */
  observe(key: string, nowMs: number, newName: () => string): SeriesAction {
    this.finish(nowMs);
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      const created: SeriesEntry = { name: newName(), count: 1, firstMs: nowMs, lastObservedMs: nowMs, writtenMs: nowMs };
      this.#entries.set(key, created);
      while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
      return { kind: 'create', entry: created };
    }
    entry.count++;
    entry.lastObservedMs = nowMs;
    if (entry.count === 2) {
      entry.writtenMs = nowMs;
      return { kind: 'series', entry };
    }
    return { kind: 'none', entry };
  }

  /** Series whose count moved since the last write and whose refresh is due; marks them written. */
  due(nowMs: number): SeriesEntry[] {
    const out: SeriesEntry[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.count > 1 && entry.lastObservedMs > entry.writtenMs && nowMs - entry.writtenMs >= this.#refreshMs) {
        entry.writtenMs = nowMs;
        out.push(entry);
      }
    }
    return out;
  }

  /** Ends the series idle for finishMs; returns those whose last count was never written. */
  finish(nowMs: number): SeriesEntry[] {
    const unwritten: SeriesEntry[] = [];
    for (const [key, entry] of this.#entries) {
      if (nowMs - entry.lastObservedMs < this.#finishMs) continue;
      this.#entries.delete(key);
      if (entry.count > 1 && entry.lastObservedMs > entry.writtenMs) unwritten.push(entry);
    }
    return unwritten;
  }

  get size(): number {
    return this.#entries.size;
  }
}
