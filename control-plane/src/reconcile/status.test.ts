import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_STATUS_PLACEMENTS, type PlacementStatus, type WorkloadReport } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { deploymentStatus, placementStatus, sameStatus } from './status.ts';

const now = new Date('2030-01-01T00:00:00Z');
const placement = (node: string, over: Partial<Placement> = {}): Placement => ({
  deployment: 'ns/det',
  node,
  accelerator: 'gpu0',
  variant: 'det-fp16',
  precision: 'fp16',
  profile: 'full',
  cap: 'fp32',
  predictedP99Ms: 12.345,
  tierReason: 'best accuracy within the SLO',
  ...over,
});
const ps = (node: string, phase: PlacementStatus['phase'], precision: PlacementStatus['precision'] = 'fp16'): PlacementStatus => ({
  node,
  accelerator: 'gpu0',
  variant: `det-${precision}`,
  precision,
  profile: 'full',
  phase,
});

describe('placementStatus', () => {
  const report = (over: Partial<WorkloadReport>): WorkloadReport => ({ key: 'ns/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready', ...over });
  const rows: { name: string; reports?: WorkloadReport[]; phase: string; reason?: string; p99?: number }[] = [
    { name: 'no report yet', phase: 'Pending', reason: 'AwaitingAgent', p99: 12.35 },
    { name: 'agent reports Ready with latency', reports: [report({ p99Ms: 8 })], phase: 'Ready', p99: 8 },
    { name: 'old variant still running', reports: [report({ variant: 'det-fp32' })], phase: 'Pending', reason: 'SwitchingVariant' },
    { name: 'failure carries its reason', reports: [report({ phase: 'Failed', reason: 'ChecksumMismatch' })], phase: 'Failed', reason: 'ChecksumMismatch' },
    { name: 'other deployment only', reports: [report({ key: 'ns/other' })], phase: 'Pending', reason: 'AwaitingAgent' },
    { name: 'a failed switch to this variant while the old one serves', reports: [report({ variant: 'det-fp32', failedVariant: 'det-fp16', reason: 'DigestMismatch' })], phase: 'Failed', reason: 'DigestMismatch' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const s = placementStatus(placement('n1'), row.reports);
      expect(s.phase).toBe(row.phase);
      expect(s.reason).toBe(row.reason);
      if (row.p99 !== undefined) expect(s.p99LatencyMs).toBe(row.p99);
    });
  }
});

describe('deploymentStatus', () => {
  it('summarises counts, tiers and conditions', () => {
    const s = deploymentStatus({
      generation: 3,
      replicas: 3,
      placements: [ps('c', 'Ready', 'int8'), ps('a', 'Ready'), ps('b', 'Downloading')],
      unplaced: 0,
      prev: undefined,
      now,
    });
    expect(s).toMatchObject({
      observedGeneration: 3,
      replicas: 3,
      readyReplicas: 2,
      unplacedReplicas: 0,
      ready: '2/3',
      tiers: 'fp16:2 int8:1',
      precisionCounts: { fp16: 2, int8: 1 },
      phaseCounts: { Ready: 2, Downloading: 1 },
      placementsTruncated: false,
    });
    expect(s.placements?.map((p) => p.node)).toEqual(['a', 'b', 'c']);
    const cond = Object.fromEntries((s.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
    expect(cond).toEqual({ Ready: 'False/ReplicasNotReady', Progressing: 'True/ReplicasUpdating', Degraded: 'False/AsExpected' });
  });

  it('is Ready once every replica is, and Degraded with the plan message when some stay unplaced', () => {
    const ready = deploymentStatus({ generation: 1, replicas: 2, placements: [ps('a', 'Ready'), ps('b', 'Ready')], unplaced: 0, prev: undefined, now });
    expect(ready.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AllReplicasReady', observedGeneration: 1 });
    const degraded = deploymentStatus({
      generation: 1,
      replicas: 3,
      placements: [ps('a', 'Ready')],
      unplaced: 2,
      planMessage: '1/3 nodes are available: 2 not Ready.',
      prev: ready,
      now,
    });
    expect(degraded.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'Unschedulable' });
    expect(degraded.conditions?.find((c) => c.type === 'Degraded')?.message).toContain('2 not Ready');
  });

  it('says in Degraded and Progressing which variant failed where, and keeps the failures', () => {
    const failure = { node: 'a', variant: 'det-int8', sha256: 'c'.repeat(64), reason: 'DigestMismatch', message: 'artifact x: digest mismatch', count: 1, lastFailureTime: now.toISOString(), retryAfter: new Date(now.getTime() + 10_000).toISOString() };
    const input = { generation: 1, replicas: 2, placements: [ps('a', 'Downloading'), ps('b', 'Ready')], unplaced: 0, failures: [failure], prev: undefined };
    const s = deploymentStatus({ ...input, now });
    const degraded = s.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'VariantFailed' });
    expect(degraded?.message).toBe('every replica is placed, but det-int8 failed on a (DigestMismatch: artifact x: digest mismatch) and is not placed there before 2030-01-01T00:00:10Z');
    expect(s.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'FallingBack', message: '1 downloading: a moves to det-fp16 after det-int8 failed there (DigestMismatch)' });
    expect(s.failures).toEqual([failure]);
    // The same a second later: no new status write.
    expect(sameStatus(s, deploymentStatus({ ...input, prev: s, now: new Date(now.getTime() + 1000) }))).toBe(true);
    // Once the backoff is over the failure is history, not degradation.
    const later = deploymentStatus({ ...input, placements: [ps('a', 'Ready'), ps('b', 'Ready')], prev: s, now: new Date(now.getTime() + 11_000) });
    expect(later.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('caps the listed placements and says so', () => {
    const many = Array.from({ length: MAX_STATUS_PLACEMENTS + 5 }, (_, i) => ps(`n${String(i).padStart(4, '0')}`, 'Ready'));
    const s = deploymentStatus({ generation: 1, replicas: many.length, placements: many, unplaced: 0, prev: undefined, now });
    expect(s.placements).toHaveLength(MAX_STATUS_PLACEMENTS);
    expect(s.placementsTruncated).toBe(true);
    expect(s.phaseCounts?.Ready).toBe(many.length);
  });

  it('is stable: the same inputs give a status equal to the previous one', () => {
    const a = deploymentStatus({ generation: 1, replicas: 1, placements: [ps('a', 'Ready')], unplaced: 0, prev: undefined, now });
    const b = deploymentStatus({ generation: 1, replicas: 1, placements: [ps('a', 'Ready')], unplaced: 0, prev: a, now: new Date('2031-01-01T00:00:00Z') });
    expect(sameStatus(a, b)).toBe(true);
    expect(sameStatus(a, { ...b, readyReplicas: 0 })).toBe(false);
  });
});

describe('sameStatus', () => {
  // What it must agree with: JSON with sorted keys and undefined members left out.
  const canonical = (v: unknown): string | undefined =>
    JSON.stringify(v, (_k, value: unknown) =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value as Record<string, unknown>)
              .filter(([, x]) => x !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
          )
        : value,
    );
  const shuffled = (v: unknown, seed: number): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => shuffled(x, seed + i));
    if (!v || typeof v !== 'object') return v;
    const entries = Object.entries(v as Record<string, unknown>);
    const rotated = entries.slice(seed % Math.max(1, entries.length)).concat(entries.slice(0, seed % Math.max(1, entries.length)));
    return Object.fromEntries(rotated.map(([k, x]) => [k, shuffled(x, seed + 1)]));
  };
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', ''), fc.constantFrom(Number.NaN, Infinity)),
    node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('node'), { maxKeys: 3 })),
  })).node;

  it('agrees with comparing canonical JSON', () => {
    fc.assert(
      fc.property(value, value, fc.nat(), (a, b, seed) => {
        expect(sameStatus(a, b)).toBe(canonical(a) === canonical(b));
        expect(sameStatus(a, shuffled(a, seed))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
