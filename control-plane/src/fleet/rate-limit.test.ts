import { describe, expect, it } from 'vitest';
import { KeyedRateLimit } from './rate-limit.ts';

describe('KeyedRateLimit', () => {
  it('allows a burst, then one per refill period', () => {
    const rl = new KeyedRateLimit({ burst: 3, refillMs: 1000, maxKeys: 10 });
    expect([0, 0, 0, 0].map((t) => rl.take('a', t))).toEqual([true, true, true, false]);
    expect(rl.take('a', 500)).toBe(false);
    expect(rl.take('a', 1000)).toBe(true);
    expect(rl.take('a', 1100)).toBe(false);
    // Keys do not share tokens.
    expect(rl.take('b', 1100)).toBe(true);
  });

  it('refills no higher than the burst', () => {
    const rl = new KeyedRateLimit({ burst: 2, refillMs: 10, maxKeys: 10 });
    rl.take('a', 0);
    expect([1e6, 1e6, 1e6].map((t) => rl.take('a', t))).toEqual([true, true, false]);
  });

  it('tracks at most maxKeys, forgetting the least recently used', () => {
    const rl = new KeyedRateLimit({ burst: 1, refillMs: 1e9, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) rl.take(`n${i}`, 0);
    expect(rl.size).toBe(100);
    // n9999 is tracked and spent; n0 was forgotten, so it gets a fresh token.
    expect(rl.take('n9999', 0)).toBe(false);
    expect(rl.take('n0', 0)).toBe(true);
  });

  it('refuses settings that would never allow anything', () => {
    expect(() => new KeyedRateLimit({ burst: 0, refillMs: 1, maxKeys: 1 })).toThrow(RangeError);
  });
});
