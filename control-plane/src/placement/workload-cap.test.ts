import { MAX_WORKLOADS_PER_NODE } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { filterPlugins, runFilters } from './filters.ts';
import { makeSpec, node } from './fixtures.ts';
import { planDeployment } from './plan.ts';
import { preparePlan } from './prepare.ts';
import type { Placement } from './types.ts';

const FULL = `at the node's workload limit (${MAX_WORKLOADS_PER_NODE})`;

describe('NodeWorkloadCap', () => {
  const rows: Array<{ name: string; others?: number; want: string | undefined }> = [
    { name: 'no other workloads', want: undefined },
    { name: 'one slot left', others: MAX_WORKLOADS_PER_NODE - 1, want: undefined },
    { name: 'full', others: MAX_WORKLOADS_PER_NODE, want: FULL },
    { name: 'past full (two plans raced)', others: MAX_WORKLOADS_PER_NODE + 1, want: FULL },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const others = row.others === undefined ? undefined : new Map([['n', row.others]]);
      const ctx = preparePlan({ key: 'ns/d', spec: makeSpec(), nodes: [node('n')], current: [], committedMiB: new Map(), ...(others ? { otherWorkloads: others } : {}) });
      expect(runFilters(filterPlugins, ctx, ctx.nodes[0]!).reason).toBe(row.want);
    });
  }

  it('places on a node with room and says why the full one was refused', () => {
    const otherWorkloads = new Map([['full', MAX_WORKLOADS_PER_NODE]]);
    const both = planDeployment({ key: 'ns/d', spec: makeSpec({ replicas: 2 }), nodes: [node('full'), node('room')], current: [], committedMiB: new Map(), otherWorkloads });
    expect(both.placements.map((p) => p.node)).toEqual(['room']);
    expect(both.unplaced).toBe(1);
    expect(both.message).toBe(`0/2 nodes are available: 1 at maxPerNode (1), 1 ${FULL}.`);
  });

  it('moves a replica off a node that went past the limit', () => {
    const first = planDeployment({ key: 'ns/d', spec: makeSpec(), nodes: [node('a'), node('b')], current: [], committedMiB: new Map() });
    const on = first.placements[0]!.node;
    const other = on === 'a' ? 'b' : 'a';
    const current: Placement[] = first.placements;
    const next = planDeployment({ key: 'ns/d', spec: makeSpec(), nodes: [node('a'), node('b')], current, committedMiB: new Map(), otherWorkloads: new Map([[on, MAX_WORKLOADS_PER_NODE]]) });
    expect(next.placements.map((p) => p.node)).toEqual([other]);
    expect(next.unplaced).toBe(0);
  });
});
