import { describe, expect, it } from 'vitest';
import { EdgeNode } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { nodeView } from './node-views.ts';
import { changedNodes, describeChange, samePlacements } from './reconciler.ts';

const node = EdgeNode.parse({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeNode',
  metadata: { name: 'n1', labels: { site: 'a' } },
  spec: { unschedulable: true },
  status: {
    accelerators: [{ id: 'gpu0', type: 'GPU', memoryMiB: 8192, precisions: ['fp16'], tops: { fp16: 10 } }],
    power: { source: 'mains' },
    network: { type: 'ethernet' },
    cachedArtifacts: ['s'.repeat(64)],
  },
});
const digestOf = (key: string, variant: string) => (key === 'ns/det' && variant === 'det-fp16' ? 'd'.repeat(64) : undefined);

describe('nodeView', () => {
  const now = 10_000;
  const rows: { name: string; t?: Parameters<typeof nodeView>[1]; life?: Parameters<typeof nodeView>[3]; want: Record<string, unknown> }[] = [
    { name: 'no telemetry, no decision, no condition: not ready, status values, nothing evicted', want: { ready: false, retainReplicas: true, power: { source: 'mains' }, network: { type: 'ethernet' } } },
    { name: 'NotReady within the eviction delay: replicas retained', t: { seq: 1, lastSeenMs: now - 601 }, life: { ready: false, evicted: false }, want: { ready: false, retainReplicas: true } },
    { name: 'evicted: replicas go elsewhere', t: { seq: 1, lastSeenMs: now - 601 }, life: { ready: false, evicted: true }, want: { ready: false, retainReplicas: false } },
    { name: 'no record but Ready: unknown is not stale', life: { ready: true, evicted: false }, want: { ready: true, retainReplicas: false } },
    {
      name: 'fresh telemetry wins over status',
      t: { seq: 1, lastSeenMs: now - 100, power: { source: 'battery', batteryPercent: 30 }, network: { type: 'wifi' } },
      life: { ready: true, evicted: false },
      want: { ready: true, power: { source: 'battery', batteryPercent: 30 }, network: { type: 'wifi' } },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const v = nodeView(node, row.t, now, row.life, digestOf);
      expect(v).toMatchObject({ name: 'n1', labels: { site: 'a' }, unschedulable: true, ...row.want });
    });
  }

  it('keys measured latency by variant digest and accelerator, from Ready workloads only', () => {
    const v = nodeView(
      node,
      {
        seq: 1,
        lastSeenMs: now,
        workloads: [
          { key: 'ns/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready', p99Ms: 7 },
          { key: 'ns/other', variant: 'x', accelerator: 'gpu0', phase: 'Ready', p99Ms: 9 },
          { key: 'ns/det', variant: 'det-fp16', accelerator: 'cpu0', phase: 'Loading', p99Ms: 90 },
        ],
        load: [{ id: 'gpu0', util: 0.5, queue: 2 }],
        cachedArtifacts: ['c'.repeat(64)],
      },
      now,
      { ready: true, evicted: false },
      digestOf,
    );
    expect([...v.measuredP99Ms]).toEqual([[`${'d'.repeat(64)}@gpu0`, 7]]);
    expect(v.utilization.get('gpu0')).toBe(0.5);
    expect(v.cachedArtifacts.has('c'.repeat(64))).toBe(true);
  });
});

describe('placement changes', () => {
  const p = (node: string, variant: string): Placement => ({
    deployment: 'ns/det',
    node,
    accelerator: 'gpu0',
    variant,
    precision: 'fp16',
    profile: 'full',
    cap: 'fp32',
    predictedP99Ms: 1,
    tierReason: 'why',
  });
  it('compares placements regardless of order', () => {
    expect(samePlacements([p('a', 'x'), p('b', 'x')], [p('b', 'x'), p('a', 'x')])).toBe(true);
    expect(samePlacements([p('a', 'x')], [p('a', 'y')])).toBe(false);
    expect(samePlacements([p('a', 'x')], [p('a', 'x'), p('b', 'x')])).toBe(false);
  });
  it('describes what changed', () => {
    expect(describeChange([p('a', 'x'), p('b', 'x')], [p('a', 'y'), p('c', 'x')])).toMatch(/^placed 2 replicas \(1 new, 1 removed, 1 re-tiered\)/);
  });
  it('names the nodes whose placements changed, and only those', () => {
    const before = [p('a', 'x'), p('b', 'x'), p('c', 'x'), p('c', 'x')];
    const after = [p('b', 'x'), p('a', 'y'), p('c', 'x'), p('d', 'x')];
    expect([...changedNodes(before, after)].sort()).toEqual(['a', 'c', 'd']);
    expect([...changedNodes(before, [...before].reverse())]).toEqual([]);
  });
});
