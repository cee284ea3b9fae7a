// A NotReady node within its eviction delay keeps its replicas and takes no new one; once
// evicted (retainReplicas false) its replicas are placed elsewhere.
import { describe, expect, it } from 'vitest';
import { makeSpec, node } from './fixtures.ts';
import { planDeployment } from './plan.ts';
import type { NodeView, Placement } from './types.ts';

const on = (n: string): Placement => ({ deployment: 'ns/d', node: n, accelerator: 'gpu0', variant: 'm-fp32', precision: 'fp32', profile: 'full', cap: 'fp32', predictedP99Ms: 1, tierReason: '' });

describe('replicas on a NotReady node', () => {
  const rows: { name: string; nodes: NodeView[]; current: string[]; want: string[] }[] = [
    { name: 'within the eviction delay: kept', nodes: [node('a', { ready: false, retainReplicas: true }), node('b'), node('c')], current: ['a', 'b'], want: ['a', 'b'] },
    { name: 'evicted: placed elsewhere', nodes: [node('a', { ready: false, retainReplicas: false }), node('b'), node('c')], current: ['a', 'b'], want: ['b', 'c'] },
    { name: 'retained nodes take no new replica', nodes: [node('a', { ready: false, retainReplicas: true }), node('b')], current: [], want: ['b'] },
    { name: 'a cordoned retained node still loses its replica', nodes: [node('a', { ready: false, retainReplicas: true, unschedulable: true }), node('b'), node('c')], current: ['a', 'b'], want: ['b', 'c'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const r = planDeployment({ key: 'ns/d', spec: makeSpec({ replicas: 2, placement: { maxPerNode: 1 } }), nodes: row.nodes, current: row.current.map(on), committedMiB: new Map() });
      expect(r.placements.map((p) => p.node).sort()).toEqual(row.want);
    });
  }
});
