import { describe, expect, it } from 'vitest';
import { planEviction, type CacheEntry } from './lru.ts';

const e = (sha256: string, bytes: number, lastUsedMs: number, pins = 0): CacheEntry => ({ sha256, bytes, lastUsedMs, pins });

describe('planEviction', () => {
  const cases: { name: string; entries: CacheEntry[]; max: number; need: number; reserved?: number; want: { evict: string[]; fits: boolean } }[] = [
    { name: 'room left: nothing evicted', entries: [e('a', 10, 1)], max: 100, need: 50, want: { evict: [], fits: true } },
    { name: 'least recently used goes first', entries: [e('a', 40, 5), e('b', 40, 1)], max: 100, need: 30, want: { evict: ['b'], fits: true } },
    { name: 'evicts as many as needed', entries: [e('a', 40, 3), e('b', 40, 1), e('c', 10, 2)], max: 100, need: 90, want: { evict: ['b', 'c', 'a'], fits: true } },
    { name: 'never a pinned one', entries: [e('a', 60, 1, 1), e('b', 30, 2)], max: 100, need: 30, want: { evict: ['b'], fits: true } },
    { name: 'does not fit when pinned bytes block', entries: [e('a', 80, 1, 2)], max: 100, need: 30, want: { evict: [], fits: false } },
    { name: 'downloads in progress count', entries: [e('a', 30, 1)], max: 100, need: 40, reserved: 40, want: { evict: ['a'], fits: true } },
  ];
  for (const c of cases) it(c.name, () => expect(planEviction(c.entries, c.max, c.need, c.reserved)).toEqual(c.want));
});
