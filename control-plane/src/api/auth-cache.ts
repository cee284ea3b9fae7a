// Review answers kept briefly, so a client polling the API costs the Kubernetes API one
// TokenReview and one SubjectAccessReview per permission every few seconds, not one per request.
// Keys are SHA-256 digests of the token: the token itself is never held as a key. Each cache
// is bounded; the oldest entry goes first. Concurrent identical reviews share one call.
// Failures (ReviewUnavailableError) are never cached.
import { createHash } from 'node:crypto';
import type { Access, AccessReviewer, Decision, UserInfo } from '../kube/access-review.ts';

export interface ReviewCacheOptions {
  /** How long an answer is reused, ms. */
  ttlMs?: number;
  /** Most answers kept per kind (users, refusals, decisions). */
  maxEntries?: number;
  now?: () => number;
}

/** A caller identified by a token: the token's digest (a cache key) and its user. */
export interface Caller {
  tokenKey: string;
  user: UserInfo;
}

/** A map whose entries expire after `ttlMs` and whose size stays at or under `max`. */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(ttlMs: number, max: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

export const tokenKey = (token: string): string => createHash('sha256').update(token).digest('hex');

const accessKey = (a: Access): string =>
  a.kind === 'path' ? `path\n${a.verb}\n${a.path}` : `res\n${a.verb}\n${a.group}\n${a.resource}\n${a.namespace ?? ''}\n${a.name ?? ''}`;

export class CachedAccessReview {
  readonly #reviewer: AccessReviewer;
  /** Accepted tokens, and reviews still in flight. */
  readonly #users: TtlCache<Promise<UserInfo | null>>;
  /**
   * Refused tokens, apart: a stream of made-up tokens fills this one and cannot push the
   * accepted ones out.
   */
  readonly #refused: TtlCache<true>;
  readonly #decisions: TtlCache<Promise<Decision>>;

  constructor(reviewer: AccessReviewer, options: ReviewCacheOptions = {}) {
    const ttl = options.ttlMs ?? 10_000;
    const max = options.maxEntries ?? 10_000;
    const now = options.now ?? Date.now;
    this.#reviewer = reviewer;
    this.#users = new TtlCache(ttl, max, now);
    this.#refused = new TtlCache(ttl, max, now);
    this.#decisions = new TtlCache(ttl, max, now);
  }

  /** The caller, or null when the token is not accepted. */
  async authenticate(token: string): Promise<Caller | null> {
    const key = tokenKey(token);
    if (this.#refused.get(key)) return null;
    let pending = this.#users.get(key);
    if (!pending) {
      pending = this.#reviewer.authenticate(token);
      this.#users.set(key, pending);
      pending.then(
        (user) => {
          if (user) return;
          this.#users.delete(key);
          this.#refused.set(key, true);
        },
        () => this.#users.delete(key),
      );
    }
    const user = await pending;
    return user ? { tokenKey: key, user } : null;
  }

  async authorize(caller: Caller, access: Access): Promise<Decision> {
    const key = `${caller.tokenKey}\n${accessKey(access)}`;
    let pending = this.#decisions.get(key);
    if (!pending) {
      pending = this.#reviewer.authorize(caller.user, access);
      this.#decisions.set(key, pending);
      pending.catch(() => this.#decisions.delete(key));
    }
    return pending;
  }
}
