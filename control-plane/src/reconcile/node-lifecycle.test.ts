import { describe, expect, it } from 'vitest';
import { disruption, inDisruption, mayEvict, nodeReadiness, type LifecycleSettings, type Readiness, type ReadinessInput, type ScopeMember } from './node-lifecycle.ts';

const s: LifecycleSettings = { gracePeriodMs: 40_000, evictionDelayMs: 300_000, fullDisruptionFraction: 0.55, fullDisruptionMinNodes: 3 };
const NOW = 1_000_000;

describe('nodeReadiness', () => {
  const rows: { name: string; input: Omit<ReadinessInput, 'nowMs'>; want: Readiness }[] = [
    { name: 'heard within the grace period', input: { lastSeenMs: NOW - 39_000, listeningSinceMs: 0, prev: { ready: true } }, want: { ready: true } },
    { name: 'heard exactly at the grace period', input: { lastSeenMs: NOW - 40_000, listeningSinceMs: 0, prev: { ready: true } }, want: { ready: true } },
    { name: 'silent past the grace period', input: { lastSeenMs: NOW - 40_001, listeningSinceMs: 0, prev: { ready: true } }, want: { ready: false, notReadySinceMs: NOW } },
    { name: 'no record, listening for less than the grace period: unknown, still Ready', input: { lastSeenMs: null, listeningSinceMs: NOW - 5_000, prev: { ready: true } }, want: { ready: true } },
    { name: 'no record, never decided, listening briefly: Ready until the grace period passes', input: { lastSeenMs: null, listeningSinceMs: NOW - 5_000, prev: undefined }, want: { ready: true } },
    { name: 'no record for a whole grace period of listening', input: { lastSeenMs: null, listeningSinceMs: NOW - 40_001, prev: { ready: true } }, want: { ready: false, notReadySinceMs: NOW } },
    { name: 'stale record after our own outage: the grace period restarts', input: { lastSeenMs: NOW - 120_000, listeningSinceMs: NOW - 1_000, prev: { ready: true } }, want: { ready: true } },
    { name: 'NotReady stays NotReady without a heartbeat, even after our outage', input: { lastSeenMs: NOW - 120_000, listeningSinceMs: NOW - 1_000, prev: { ready: false, notReadySinceMs: NOW - 60_000 } }, want: { ready: false, notReadySinceMs: NOW - 60_000 } },
    { name: 'NotReady with no record stays NotReady', input: { lastSeenMs: null, listeningSinceMs: NOW, prev: { ready: false } }, want: { ready: false, notReadySinceMs: NOW } },
    { name: 'NotReady returns with a fresh heartbeat', input: { lastSeenMs: NOW - 100, listeningSinceMs: 0, prev: { ready: false, notReadySinceMs: NOW - 60_000 } }, want: { ready: true } },
    { name: 'keeps its NotReady time', input: { lastSeenMs: NOW - 500_000, listeningSinceMs: 0, prev: { ready: false, notReadySinceMs: NOW - 10 } }, want: { ready: false, notReadySinceMs: NOW - 10 } },
  ];
  for (const row of rows) {
    it(row.name, () => expect(nodeReadiness({ ...row.input, nowMs: NOW }, s)).toEqual(row.want));
  }
});

describe('disruption', () => {
  const nodes = (spec: string, site?: string): ScopeMember[] => [...spec].map((c) => ({ ready: c === 'R', site }));
  const rows: { name: string; input: ScopeMember[]; want: { fleet: boolean; sites: string[] } }[] = [
    { name: 'all Ready', input: nodes('RRR'), want: { fleet: false, sites: [] } },
    { name: 'one of three NotReady', input: nodes('RRN'), want: { fleet: false, sites: [] } },
    { name: 'two of three NotReady', input: nodes('RNN'), want: { fleet: true, sites: [] } },
    { name: 'half of four is under 0.55', input: nodes('RRNN'), want: { fleet: false, sites: [] } },
    { name: 'a fleet under the minimum size is never disrupted', input: nodes('NN'), want: { fleet: false, sites: [] } },
    { name: 'empty fleet', input: [], want: { fleet: false, sites: [] } },
    { name: 'one site down among healthy ones', input: [...nodes('NNN', 'a'), ...nodes('RRR', 'b'), ...nodes('RRR', 'c')], want: { fleet: false, sites: ['a'] } },
    { name: 'a site under the minimum size is not disrupted', input: [...nodes('NN', 'a'), ...nodes('RRRR', 'b')], want: { fleet: false, sites: [] } },
    { name: 'nodes without a site count for the fleet only', input: [...nodes('NNN'), ...nodes('R', 'a')], want: { fleet: true, sites: [] } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const d = disruption(row.input, s);
      expect({ fleet: d.fleet, sites: [...d.sites].sort() }).toEqual(row.want);
    });
  }

  it('a node is in disruption when the fleet or its own site is', () => {
    expect(inDisruption('a', { fleet: false, sites: new Set(['a']) })).toBe(true);
    expect(inDisruption('b', { fleet: false, sites: new Set(['a']) })).toBe(false);
    expect(inDisruption(undefined, { fleet: true, sites: new Set() })).toBe(true);
    expect(inDisruption(undefined, { fleet: false, sites: new Set(['a']) })).toBe(false);
  });
});

describe('mayEvict', () => {
  const rows: { name: string; input: Parameters<typeof mayEvict>[0]; want: boolean }[] = [
    { name: 'Ready: never', input: { nowMs: NOW, readiness: { ready: true }, disrupted: false }, want: false },
    { name: 'NotReady within the eviction delay', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW - 299_999 }, disrupted: false }, want: false },
    { name: 'NotReady for the eviction delay', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW - 300_000 }, disrupted: false }, want: true },
    { name: 'full disruption: nothing is evicted', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW - 900_000 }, disrupted: true }, want: false },
    { name: 'the delay restarts when a disruption ends', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW - 900_000 }, disrupted: false, lastDisruptedMs: NOW - 1_000 }, want: false },
    { name: 'a disruption long past does not hold it', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW - 900_000 }, disrupted: false, lastDisruptedMs: NOW - 400_000 }, want: true },
    { name: 'just NotReady', input: { nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW }, disrupted: false }, want: false },
  ];
  for (const row of rows) it(row.name, () => expect(mayEvict(row.input, s)).toBe(row.want));

  it('zero delay evicts as soon as the node is NotReady', () => {
    expect(mayEvict({ nowMs: NOW, readiness: { ready: false, notReadySinceMs: NOW }, disrupted: false }, { evictionDelayMs: 0 })).toBe(true);
  });
});
