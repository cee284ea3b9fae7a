// Token buckets per key (a node name), for messages each node may send at a known pace.
// Memory is bounded: past maxKeys the least recently used bucket is forgotten, which at worst
// gives that key a fresh burst.

export interface KeyedRateLimitOptions {
  /** Tokens a key may spend at once. */
  burst: number;
  /** Time to earn one token back, ms. */
  refillMs: number;
  /** Keys tracked at most. */
  maxKeys: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class KeyedRateLimit {
  readonly #o: KeyedRateLimitOptions;
  /** Insertion order is recency order: a key is moved to the end each time it is used. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: KeyedRateLimitOptions) {
    if (!(options.burst >= 1 && options.refillMs > 0 && options.maxKeys >= 1)) {
      throw new RangeError(`rate limit needs burst >= 1, refillMs > 0 and maxKeys >= 1 (got ${options.burst}, ${options.refillMs}, ${options.maxKeys})`);
    }
    this.#o = options;
  }

  /** Spends one token of the key; false when it has none left. */
  take(key: string, nowMs: number): boolean {
    const { burst, refillMs, maxKeys } = this.#o;
    const b = this.#buckets.get(key);
    let tokens = burst;
    if (b) {
      tokens = Math.min(burst, b.tokens + (nowMs - b.atMs) / refillMs);
      this.#buckets.delete(key);
    } else if (this.#buckets.size >= maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    const ok = tokens >= 1;
    this.#buckets.set(key, { tokens: ok ? tokens - 1 : tokens, atMs: nowMs });
    return ok;
  }

  forget(key: string): void {
    this.#buckets.delete(key);
  }

  get size(): number {
    return this.#buckets.size;
  }
}
