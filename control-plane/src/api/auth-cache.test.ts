import { describe, expect, it } from 'vitest';
import type { AccessReviewer, Decision, UserInfo } from '../kube/access-review.ts';
import { CachedAccessReview, TtlCache, tokenKey } from './auth-cache.ts';

describe('TtlCache', () => {
  it('forgets an entry after its time to live', () => {
    let now = 0;
    const c = new TtlCache<number>(10, 5, () => now);
    c.set('a', 1);
    now = 9;
    expect(c.get('a')).toBe(1);
    now = 10;
    expect(c.get('a')).toBeUndefined();
  });

  it('never holds more than its bound; the oldest goes first', () => {
    const c = new TtlCache<number>(1000, 3, () => 0);
    for (let i = 0; i < 10; i++) c.set(`k${i}`, i);
    expect(c.size).toBe(3);
    expect([c.get('k6'), c.get('k7'), c.get('k8'), c.get('k9')]).toEqual([undefined, 7, 8, 9]);
  });
});

describe('CachedAccessReview', () => {
  const user: UserInfo = { username: 'u', groups: [] };
  const access = { kind: 'path', verb: 'get', path: '/metrics' } as const;

  function counting(valid: Set<string>) {
    const seen: string[] = [];
    const reviewer: AccessReviewer = {
      authenticate: async (token) => {
        seen.push(token);
        return valid.has(token) ? user : null;
      },
      authorize: async (): Promise<Decision> => ({ allowed: true }),
    };
    return { reviewer, seen };
  }

  it('keys by the token digest, never the token', async () => {
    const { reviewer } = counting(new Set(['secret-token']));
    const caller = await new CachedAccessReview(reviewer).authenticate('secret-token');
    expect(caller?.tokenKey).toBe(tokenKey('secret-token'));
    expect(caller?.tokenKey).not.toContain('secret-token');
    expect(caller?.tokenKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reviews again once an answer is stale', async () => {
    let now = 0;
    const { reviewer, seen } = counting(new Set(['t']));
    const review = new CachedAccessReview(reviewer, { ttlMs: 10_000, now: () => now });
    await review.authenticate('t');
    await review.authenticate('t');
    now = 10_001;
    await review.authenticate('t');
    expect(seen).toEqual(['t', 't']);
  });

  it('caches refusals apart, so made-up tokens cannot push accepted ones out', async () => {
    const { reviewer, seen } = counting(new Set(['good']));
    const review = new CachedAccessReview(reviewer, { maxEntries: 2 });
    expect(await review.authenticate('good')).not.toBeNull();
    for (let i = 0; i < 10; i++) expect(await review.authenticate(`made-up-${i}`)).toBeNull();
    expect(await review.authenticate('made-up-9')).toBeNull();
    await review.authenticate('good');
    expect(seen.filter((t) => t === 'good')).toHaveLength(1);
    expect(seen.filter((t) => t === 'made-up-9')).toHaveLength(1);
  });

  it('keeps no failure: the next request asks again', async () => {
    let fail = true;
    let calls = 0;
    const reviewer: AccessReviewer = {
      authenticate: async () => {
        calls++;
        if (fail) throw new Error('down');
        return user;
      },
      authorize: async () => {
        calls++;
        if (fail) throw new Error('down');
        return { allowed: true };
      },
    };
    const review = new CachedAccessReview(reviewer);
    await expect(review.authenticate('t')).rejects.toThrow('down');
    await expect(review.authorize({ tokenKey: 'k', user }, access)).rejects.toThrow('down');
    fail = false;
    expect(await review.authenticate('t')).not.toBeNull();
    expect(await review.authorize({ tokenKey: 'k', user }, access)).toEqual({ allowed: true });
    expect(calls).toBe(4);
  });
});
