import { describe, expect, it } from 'vitest';
import { filterPlugins, runFilters } from './filters.ts';
import { makeSpec, node, standardVariants } from './fixtures.ts';
import { planDeployment } from './plan.ts';
import { preparePlan } from './prepare.ts';
import type { Placement } from './types.ts';

const spec = makeSpec({ model: { name: 'm', task: 't', variants: standardVariants() }, replicas: 1 });
const names = spec.model.variants.map((v) => v.name);
const excluded = (entries: Array<[string, string[]]>) => new Map(entries.map(([n, vs]) => [n, new Set(vs)]));

describe('FailureBackoff', () => {
  const rows: Array<{ name: string; excluded: Array<[string, string[]]>; want: string | undefined }> = [
    { name: 'nothing failed', excluded: [], want: undefined },
    { name: 'one variant failed: others remain', excluded: [['n', [names[0]!]]], want: undefined },
    { name: 'another node failed', excluded: [['other', names]], want: undefined },
    { name: 'every variant failed here', excluded: [['n', names]], want: 'every fitting variant failed there recently (backing off)' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const ctx = preparePlan({ key: 'ns/d', spec, nodes: [node('n')], current: [], committedMiB: new Map(), excludedVariants: excluded(row.excluded) });
      expect(runFilters(filterPlugins, ctx, ctx.nodes[0]!).reason).toBe(row.want);
    });
  }

  it('moves a replica to the next variant on the same node when its variant failed there', () => {
    const first = planDeployment({ key: 'ns/d', spec, nodes: [node('n')], current: [], committedMiB: new Map() });
    const was = first.placements[0]!;
    const next = planDeployment({ key: 'ns/d', spec, nodes: [node('n')], current: first.placements, committedMiB: new Map(), excludedVariants: excluded([['n', [was.variant]]]) });
    expect(next.placements).toHaveLength(1);
    expect(next.placements[0]!.node).toBe('n');
    expect(next.placements[0]!.variant).not.toBe(was.variant);
  });

  it('moves a replica to another node when every variant failed on its node, and says why when none is left', () => {
    const current: Placement[] = planDeployment({ key: 'ns/d', spec, nodes: [node('a')], current: [], committedMiB: new Map() }).placements;
    const moved = planDeployment({ key: 'ns/d', spec, nodes: [node('a'), node('b')], current, committedMiB: new Map(), excludedVariants: excluded([['a', names]]) });
    expect(moved.placements.map((p) => p.node)).toEqual(['b']);
    const none = planDeployment({ key: 'ns/d', spec, nodes: [node('a'), node('b')], current, committedMiB: new Map(), excludedVariants: excluded([['a', names], ['b', names]]) });
    expect(none.unplaced).toBe(1);
    expect(none.message).toBe('0/2 nodes are available: 2 every fitting variant failed there recently (backing off).');
  });

  it('does not hold a variant that failed, even within upgradeHoldMs', () => {
    const nowMs = 1_000_000;
    const first = planDeployment({ key: 'ns/d', spec, nodes: [node('n')], current: [], committedMiB: new Map(), nowMs });
    const was = first.placements[0]!.variant;
    const next = planDeployment({ key: 'ns/d', spec, nodes: [node('n')], current: first.placements, committedMiB: new Map(), nowMs: nowMs + 1, excludedVariants: excluded([['n', [was]]]) });
    expect(next.placements[0]!.variant).not.toBe(was);
  });
});
