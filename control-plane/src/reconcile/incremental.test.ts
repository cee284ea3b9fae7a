// The changed-nodes plan against the full plan: whenever it applies, it must return exactly what
// planDeployment returns for the whole fleet.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Accelerator, LinkType } from '@edgeplane/api';
import { cpu, gpu, makeSpec, node, npu, sha } from '../placement/fixtures.ts';
import { planDeployment } from '../placement/index.ts';
import type { NodeView, PlanInput } from '../placement/types.ts';
import { planChangedNodes, type PlanBasis } from './incremental.ts';

const KEY = 'ns/d';
const T0 = 1_000_000;

const accelerators = fc.constantFrom<Accelerator[]>([gpu()], [cpu()], [npu()], [gpu(), cpu()], [cpu({ memoryMiB: 300 })], [npu({ memoryMiB: 120 })]);
const links = fc.constantFrom<LinkType>('ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora');

interface NodeState {
  accelerators: Accelerator[];
  battery: number | undefined;
  link: LinkType;
  bandwidth: number;
  ready: boolean;
  util: number;
  measured: number | undefined;
}

const state: fc.Arbitrary<NodeState> = fc.record({
  accelerators,
  battery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  link: links,
  bandwidth: fc.constantFrom(1, 10, 100, 1000),
  ready: fc.integer({ min: 0, max: 15 }).map((n) => n > 0),
  util: fc.double({ min: 0, max: 1, noNaN: true }),
  measured: fc.option(fc.double({ min: 1, max: 200, noNaN: true }), { nil: undefined }),
});

function view(name: string, s: NodeState, accs?: readonly Accelerator[]): NodeView {
  const acc = accs ?? s.accelerators;
  return node(name, {
    labels: { site: `s${name.length % 3}` },
    ready: s.ready,
    accelerators: acc,
    power: s.battery === undefined ? { source: 'mains' } : { source: 'battery', batteryPercent: s.battery },
    network: { type: s.link, bandwidthMbps: s.bandwidth },
    utilization: new Map([[acc[0]!.id, s.util]]),
    measuredP99Ms: s.measured === undefined ? new Map() : new Map([[`${sha('m-fp16')}@${acc[0]!.id}`, s.measured]]),
  });
}

const scenario = fc
  .record({
    nodes: fc.array(state, { minLength: 2, maxLength: 24 }),
    maxPerNode: fc.constantFrom(1, 1, 2),
    objective: fc.constantFrom('latency', 'accuracy', 'energy'),
    // Changes some nodes go through and back before the plan the shortcut starts from, so some
    // replicas hold a faster variant (upgradeHoldMs) when it runs.
    earlier: fc.array(fc.tuple(fc.nat(), state), { maxLength: 4 }),
    // None: a reconcile with no view changed since the last plan (a retry, a notice that came late).
    changes: fc.array(fc.tuple(fc.nat(), state), { minLength: 0, maxLength: 4 }),
    elapsedMs: fc.constantFrom(10, 1_000, 29_000, 31_000, 120_000),
    holdMs: fc.constantFrom(0, 30_000),
  })
  .map((s) => ({ ...s, earlier: s.earlier.map(([i, st]) => [i % s.nodes.length, st] as const), changes: s.changes.map(([i, st]) => [i % s.nodes.length, st] as const) }));

describe('planChangedNodes', () => {
  it('returns the full plan whenever it applies', () => {
    let applied = 0;
    let retiered = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const names = s.nodes.map((_, i) => `n${String(i).padStart(2, '0')}`);
        const spec = makeSpec({ replicas: s.nodes.length * s.maxPerNode, objective: s.objective, placement: { maxPerNode: s.maxPerNode } } as never);
        const views = s.nodes.map((st, i) => view(names[i]!, st));
        const base: Omit<PlanInput, 'nodes' | 'current' | 'nowMs'> = { key: KEY, spec, committedMiB: new Map(), options: { upgradeHoldMs: s.holdMs } };
        const first = planDeployment({ ...base, nodes: views, current: [], nowMs: T0 });
        // Some nodes change and change back (their replicas may then hold a faster variant).
        const away = views.slice();
        for (const [i, st] of s.earlier) away[i] = view(names[i]!, st, views[i]!.accelerators);
        const went = planDeployment({ ...base, nodes: away, current: first.placements, nowMs: T0 + 1_000 });
        const back = planDeployment({ ...base, nodes: views, current: went.placements, nowMs: T0 + 2_000 });
        // The state a reconciler holds: a re-plan of its own plan.
        const settled = planDeployment({ ...base, nodes: views, current: back.placements, nowMs: T0 + 2_001 });
        const basis: PlanBasis = { views: views.slice(), nowMs: T0 + 2_001, placements: settled.placements };
        const next = views.slice();
        for (const [i, st] of s.changes) next[i] = view(names[i]!, st, views[i]!.accelerators);
        const input: PlanInput = { ...base, nodes: next, current: settled.placements, nowMs: T0 + 2_001 + s.elapsedMs };
        const full = planDeployment(input);
        const fast = planChangedNodes(input, basis);
        if (fast === null) return;
        applied++;
        expect(fast.placements).toEqual(full.placements);
        expect(full.unplaced).toBe(0);
        const moved = full.placements.filter((p, i) => p !== settled.placements[i] && JSON.stringify(p) !== JSON.stringify(settled.placements[i]));
        for (const p of moved) expect(fast.nodes.has(p.node)).toBe(true);
        if (moved.length > 0) retiered++;
      }),
      { numRuns: 1000 },
    );
    // The shortcut must actually be exercised, including plans where a changed node re-tiers.
    expect(applied).toBeGreaterThan(40);
    expect(retiered).toBeGreaterThan(5);
  });

  it('re-tiers a node whose battery crossed a threshold and keeps every other placement object', () => {
    const spec = makeSpec({ replicas: 20 });
    const views = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, { accelerators: [gpu()] }));
    const settled = planDeployment({ key: KEY, spec, nodes: views, current: planDeployment({ key: KEY, spec, nodes: views, current: [], committedMiB: new Map(), nowMs: T0 }).placements, committedMiB: new Map(), nowMs: T0 });
    expect(settled.placements.every((p) => p.precision === 'fp32')).toBe(true);
    const next = views.slice();
    next[7] = { ...views[7]!, power: { source: 'battery', batteryPercent: 15 } };
    const input: PlanInput = { key: KEY, spec, nodes: next, current: settled.placements, committedMiB: new Map(), nowMs: T0 + 500 };
    const fast = planChangedNodes(input, { views, nowMs: T0, placements: settled.placements });
    expect(fast).not.toBeNull();
    expect(fast!.placements).toEqual(planDeployment(input).placements);
    expect(fast!.placements[7]!.precision).toBe('int8');
    expect(fast!.positions).toEqual([7]);
    fast!.placements.forEach((p, i) => i !== 7 && expect(p).toBe(settled.placements[i]));
  });

  it('declines when a node holds fewer than maxPerNode replicas (a replica could move there)', () => {
    const spec = makeSpec({ replicas: 3 });
    const views = Array.from({ length: 4 }, (_, i) => node(`n${i}`));
    const settled = planDeployment({ key: KEY, spec, nodes: views, current: [], committedMiB: new Map(), nowMs: T0 });
    const next = views.slice();
    next[0] = { ...views[0]!, power: { source: 'battery', batteryPercent: 15 } };
    const input: PlanInput = { key: KEY, spec, nodes: next, current: settled.placements, committedMiB: new Map(), nowMs: T0 + 1 };
    expect(planChangedNodes(input, { views, nowMs: T0, placements: settled.placements })).toBeNull();
  });

  it('declines when the input is not the plan it was computed from', () => {
    const spec = makeSpec({ replicas: 2 });
    const views = [node('a'), node('b')];
    const settled = planDeployment({ key: KEY, spec, nodes: views, current: [], committedMiB: new Map(), nowMs: T0 });
    const input: PlanInput = { key: KEY, spec, nodes: views, current: settled.placements, committedMiB: new Map(), nowMs: T0 + 1 };
    expect(planChangedNodes({ ...input, nodes: [views[0]!, node('b')] }, { views, nowMs: T0, placements: settled.placements.slice() })).toBeNull();
  });

  it('with no view changed since the last plan, returns that plan itself and re-plans nothing', () => {
    const spec = makeSpec({ replicas: 20 });
    const views = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, { accelerators: [gpu()] }));
    const first = planDeployment({ key: KEY, spec, nodes: views, current: [], committedMiB: new Map(), nowMs: T0 });
    const settled = planDeployment({ key: KEY, spec, nodes: views, current: first.placements, committedMiB: new Map(), nowMs: T0 });
    const input: PlanInput = { key: KEY, spec, nodes: views.slice(), current: settled.placements, committedMiB: new Map(), nowMs: T0 + 1 };
    const fast = planChangedNodes(input, { views, nowMs: T0, placements: settled.placements });
    expect(fast).not.toBeNull();
    expect(fast!.placements).toBe(settled.placements);
    expect(fast!.positions).toEqual([]);
    expect(fast!.placements).toEqual(planDeployment(input).placements);
  });
});
