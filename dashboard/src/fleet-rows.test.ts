import { describe, expect, it } from 'vitest';
import type { FleetNode } from '../../api/src/dashboard.ts';
import { fleetRows, matches, NO_SITE, refreshRows, visibleRange } from './fleet-rows.ts';

const node = (name: string, site: string | null, extra: Partial<FleetNode> = {}): FleetNode => ({
  name,
  site,
  labels: {},
  unschedulable: false,
  ready: true,
  reachable: true,
  accelerators: [{ id: 'cpu0', type: 'CPU' }],
  power: null,
  link: null,
  workloads: [],
  rev: 1,
  ...extra,
});

describe('fleetRows', () => {
  it('groups by site in name order, unlabelled last, nodes in natural order', () => {
    const rows = fleetRows([node('n10', 'b'), node('n2', 'b'), node('x', null), node('a1', 'a')], '');
    expect(rows.map((r) => (r.kind === 'site' ? `[${r.site}:${r.count}]` : r.node.name))).toEqual(['[a:1]', 'a1', '[b:2]', 'n2', 'n10', `[${NO_SITE}:1]`, 'x']);
  });

  it('a filter keeps nodes with every term and drops empty sites', () => {
    const gpu = node('jetson', 'a', { accelerators: [{ id: 'gpu0', type: 'GPU' }], link: { type: 'cellular-4g', metered: true, bandwidthMbps: 20, rttMs: null } });
    const rows = fleetRows([gpu, node('x86', 'b')], 'gpu  CELLULAR-4g');
    expect(rows.map((r) => (r.kind === 'site' ? r.site : r.node.name))).toEqual(['a', 'jetson']);
  });

  it.each([
    { name: 'label', filter: 'role=ocr', want: true },
    { name: 'tier', filter: 'int8', want: true },
    { name: 'deployment', filter: 'warehouse/ocr', want: true },
    { name: 'absent term', filter: 'int8 gpu', want: false },
  ])('matches by $name', ({ filter, want }) => {
    const n = node('pi', 's', {
      labels: { role: 'ocr' },
      workloads: [{ deployment: 'warehouse/ocr-line', variant: 'int8', precision: 'int8', accelerator: 'cpu0', phase: 'Ready' }],
    });
    expect(matches(n, filter)).toBe(want);
  });
});

describe('visibleRange', () => {
  it.each([
    { name: 'top', top: 0, want: { start: 0, end: 19 } },
    { name: 'middle', top: 4400, want: { start: 92, end: 119 } },
    { name: 'end', top: 1_000_000, want: { start: 4981, end: 5000 } },
  ])('$name', ({ top, want }) => {
    expect(visibleRange(top, 440, 44, 5000, 8)).toEqual(want);
  });
});

describe('refreshRows', () => {
  it('swaps in newer node objects and recounts ready per site without sorting', () => {
    const rows = fleetRows([node('a', 's'), node('b', 's')], '');
    const b2 = node('b', 's', { ready: false, rev: 2 });
    const next = refreshRows(rows, new Map([['a', (rows[1] as { node: FleetNode }).node], ['b', b2]]));
    expect(next?.map((r) => (r.kind === 'site' ? `${r.site}:${r.ready}/${r.count}` : `${r.node.name}@${r.node.rev}`))).toEqual(['s:1/2', 'a@1', 'b@2']);
  });

  it.each([
    { name: 'a node gone', nodes: [node('a', 's')] },
    { name: 'a node moved site', nodes: [node('a', 's'), node('b', 't')] },
  ])('gives up when $name', ({ nodes }) => {
    const rows = fleetRows([node('a', 's'), node('b', 's')], '');
    expect(refreshRows(rows, new Map(nodes.map((n) => [n.name, n])))).toBeNull();
  });
});
