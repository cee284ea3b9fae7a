import { describe, expect, it } from 'vitest';
import type { Assignment } from '@edgeplane/api';
import { applyRevocations, markedKeys, sameRevocations, unmetWants, type RevocationWant } from './revocations.ts';
import { serveTagsOf } from './serve-tags.ts';

const NOW = 2_000_000_000;
const DAY = 86_400;
const want = (atS: number, ifMissing = false): RevocationWant => ({ atS, ifMissing });

describe('applying revocations', () => {
  const rows: { name: string; current: Record<string, number>; wants: [string, RevocationWant][]; want: Record<string, number> }[] = [
    { name: 'adds a new key', current: {}, wants: [['UA', want(NOW)]], want: { UA: NOW } },
    { name: 'keeps what is there', current: { UB: NOW - 10 }, wants: [['UA', want(NOW)]], want: { UA: NOW, UB: NOW - 10 } },
    { name: 'a level want leaves an existing time alone (idempotent)', current: { UA: NOW - 100 }, wants: [['UA', want(NOW, true)]], want: { UA: NOW - 100 } },
    { name: 'a level want adds a missing key', current: {}, wants: [['UA', want(NOW, true)]], want: { UA: NOW } },
    { name: 'an event raises the time (a credential issued since is refused too)', current: { UA: NOW - 100 }, wants: [['UA', want(NOW)]], want: { UA: NOW } },
    { name: 'an event never lowers the time', current: { UA: NOW }, wants: [['UA', want(NOW - 100)]], want: { UA: NOW } },
    { name: 'prunes revocations older than any credential can live', current: { OLD: NOW - 40 * DAY, RECENT: NOW - 2 * DAY }, wants: [], want: { RECENT: NOW - 2 * DAY } },
  ];
  it.each(rows)('$name', ({ current, wants, want: expected }) => {
    expect(applyRevocations(current, new Map(wants), NOW)).toEqual(expected);
  });

  it('tells which wants the server does not hold', () => {
    const wants = new Map([['UA', want(NOW)], ['UB', want(NOW, true)], ['UC', want(NOW)]]);
    expect(unmetWants({ UA: NOW, UB: NOW - 5, UC: NOW - 1 }, wants)).toEqual(['UC']);
    expect(unmetWants({}, wants)).toEqual(['UA', 'UB', 'UC']);
  });

  it('compares revocation sets', () => {
    expect(sameRevocations({ UA: 1, UB: 2 }, { UB: 2, UA: 1 })).toBe(true);
    expect(sameRevocations({ UA: 1 }, { UA: 2 })).toBe(false);
    expect(sameRevocations({ UA: 1 }, { UA: 1, UB: 1 })).toBe(false);
  });

  it('finds the keys of marked nodes only', () => {
    expect(markedKeys([{ publicKey: 'UA', revoked: true }, { publicKey: 'UB', revoked: false }, { revoked: true }])).toEqual(['UA']);
  });
});

describe('serve tags from an assignment', () => {
  const workload = (namespace: string, deployment: string) => ({ namespace, deployment }) as Assignment['workloads'][number];
  it.each([
    { name: 'no assignment', a: null, want: [] },
    { name: 'no workloads', a: { v: 1, node: 'n', workloads: [], issuedAtMs: 1 }, want: [] },
    {
      name: 'one tag per deployment, sorted, no duplicates',
      a: { v: 1, node: 'n', workloads: [workload('b', 'y'), workload('a', 'x'), workload('b', 'y')], issuedAtMs: 1 },
      want: ['serve:a.x', 'serve:b.y'],
    },
  ] as { name: string; a: Assignment | null; want: string[] }[])('$name', ({ a, want: expected }) => {
    expect(serveTagsOf(a)).toEqual(expected);
  });
});
