// Properties over random fleets and specs. The reference planner (every plugin on every node
// for every replica) defines the expected plan; the fast planner must match it exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Accelerator, LabelSelector, LinkType, Precision } from '@edgeplane/api';
import { ACCELERATOR_TYPES, LINK_TYPES, PRECISIONS } from '@edgeplane/api';
import { allowedUnder } from './battery.ts';
import { makeSpec, sha, variant } from './fixtures.ts';
import { planDeployment, planDeploymentReference } from './plan.ts';
import { supports } from './predict.ts';
import type { NodeView, Placement, PlanInput } from './types.ts';

const RUNS = { numRuns: 100 };

const precisionSet = fc.subarray([...PRECISIONS], { minLength: 1 }) as fc.Arbitrary<Precision[]>;

const accelerator = (id: string): fc.Arbitrary<Accelerator> =>
  fc.record({
    type: fc.constantFrom(...ACCELERATOR_TYPES),
    memoryMiB: fc.integer({ min: 0, max: 6000 }),
    precisions: precisionSet,
    // Sometimes a listed precision has no TOPS: it must then count as unsupported.
    tops: fc.record({
      fp32: fc.option(fc.double({ min: 0, max: 50, noNaN: true }), { nil: undefined, freq: 6 }),
      fp16: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined, freq: 6 }),
      int8: fc.option(fc.double({ min: 0, max: 200, noNaN: true }), { nil: undefined, freq: 6 }),
    }),
    watts: fc.option(fc.double({ min: 0.5, max: 300, noNaN: true }), { nil: undefined }),
  }).map((a) => ({ id, ...a }));

const VARIANT_NAMES = ['v0', 'v1', 'v2', 'v3', 'v4'];

const nodeView = (name: string): fc.Arbitrary<NodeView> =>
  fc
    .record({
      site: fc.constantFrom('x', 'y', 'z', undefined),
      tier: fc.constantFrom('edge', 'core'),
      unschedulable: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
      ready: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
      accelerators: fc.integer({ min: 0, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => accelerator(`acc${i}`)))),
      power: fc.option(
        fc.record({
          source: fc.constantFrom('mains', 'battery', 'solar') as fc.Arbitrary<'mains' | 'battery' | 'solar'>,
          batteryPercent: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }),
          charging: fc.option(fc.boolean(), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      network: fc.option(
        fc.record({
          type: fc.constantFrom(...LINK_TYPES) as fc.Arbitrary<LinkType>,
          bandwidthMbps: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      cached: fc.subarray(VARIANT_NAMES),
      measured: fc.array(fc.tuple(fc.constantFrom(...VARIANT_NAMES), fc.constantFrom('acc0', 'acc1'), fc.double({ min: 0.1, max: 500, noNaN: true })), { maxLength: 3 }),
      utilization: fc.array(fc.tuple(fc.constantFrom('acc0', 'acc1', 'acc2'), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 3 }),
    })
    .map((r): NodeView => ({
      name,
      labels: r.site === undefined ? { tier: r.tier } : { tier: r.tier, site: r.site },
      unschedulable: r.unschedulable,
      ready: r.ready,
      accelerators: r.accelerators,
      power: r.power,
      network: r.network,
      cachedArtifacts: new Set(r.cached.map(sha)),
      measuredP99Ms: new Map(r.measured.map(([v, a, ms]) => [`${sha(v)}@${a}`, ms])),
      utilization: new Map(r.utilization),
    }));

const fleet = fc
  .uniqueArray(fc.integer({ min: 0, max: 99 }), { minLength: 0, maxLength: 20 })
  .chain((ids) => fc.tuple(...ids.map((i) => nodeView(`node-${String(i).padStart(2, '0')}`))));

const spec = fc
  .record({
    variants: fc.array(
      fc.record({
        precision: fc.constantFrom(...PRECISIONS),
        profile: fc.constantFrom('full', 'lite') as fc.Arbitrary<'full' | 'lite'>,
        accuracy: fc.double({ min: 0, max: 1, noNaN: true }),
        gflops: fc.double({ min: 0, max: 200, noNaN: true }),
        memoryMiB: fc.integer({ min: 1, max: 1500 }),
        sizeBytes: fc.integer({ min: 1, max: 500_000_000 }),
      }),
      { minLength: 1, maxLength: VARIANT_NAMES.length },
    ),
    replicas: fc.integer({ min: 0, max: 25 }),
    maxPerNode: fc.integer({ min: 1, max: 3 }),
    spread: fc.boolean(),
    selector: fc.constantFrom<LabelSelector | undefined>(
      undefined,
      { matchLabels: { tier: 'edge' } },
      { matchExpressions: [{ key: 'site', operator: 'NotIn', values: ['z'] }] },
    ),
    objective: fc.constantFrom('accuracy', 'latency', 'energy') as fc.Arbitrary<'accuracy' | 'latency' | 'energy'>,
    latencyMs: fc.double({ min: 0.5, max: 200, noNaN: true }),
    accuracyShare: fc.double({ min: 0, max: 1, noNaN: true }),
    liteOn: fc.subarray([...LINK_TYPES]),
  })
  .map((s) =>
    makeSpec({
      model: { name: 'm', task: 't', variants: s.variants.map((v, i) => variant(VARIANT_NAMES[i]!, v)) },
      replicas: s.replicas,
      placement: { maxPerNode: s.maxPerNode, selector: s.selector, spreadBy: s.spread ? 'site' : undefined },
      // The API refuses a minAccuracy that no variant reaches; stay under the best one.
      slo: { latencyMs: s.latencyMs, minAccuracy: Math.max(...s.variants.map((v) => v.accuracy)) * s.accuracyShare },
      tiering: { objective: s.objective, network: { liteOn: s.liteOn } },
    }),
  );

const planInput = fc
  .record({
    spec,
    nodes: fleet,
    committed: fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.constantFrom('acc0', 'acc1'), fc.integer({ min: 0, max: 3000 })), { maxLength: 10 }),
    stale: fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.constantFrom('acc0', 'acc1'), fc.constantFrom(...VARIANT_NAMES), fc.constantFrom(...PRECISIONS)), { maxLength: 6 }),
    keepThreshold: fc.integer({ min: 0, max: 30 }),
  })
  .map(({ spec, nodes, committed, stale, keepThreshold }): PlanInput => {
    const base = { key: 'ns/d', spec, nodes, committedMiB: new Map(committed.map(([n, a, mib]) => [`node-${String(n).padStart(2, '0')}/${a}`, mib])) };
    // Current placements: half from a previous plan over the same fleet, some arbitrary ones.
    const previous = planDeployment({ ...base, current: [] }).placements.filter((_, i) => i % 2 === 0);
    const arbitrary = stale.map(([n, acc, v, cap]): Placement => ({
      deployment: 'ns/d',
      node: `node-${String(n).padStart(2, '0')}`,
      accelerator: acc,
      variant: v,
      precision: 'int8',
      profile: 'full',
      cap,
      predictedP99Ms: 1,
      tierReason: '',
    }));
    return { ...base, current: [...previous, ...arbitrary], options: { keepThreshold } };
  });

describe('placement properties', () => {
  it('never over-commits accelerator memory', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const used = new Map<string, number>();
        for (const p of planDeployment(input).placements) {
          const key = `${p.node}/${p.accelerator}`;
          const v = input.spec.model.variants.find((x) => x.name === p.variant)!;
          used.set(key, (used.get(key) ?? input.committedMiB.get(key) ?? 0) + v.memoryMiB);
        }
        for (const [key, mib] of used) {
          const [nodeName, accId] = key.split('/');
          const acc = input.nodes.find((n) => n.name === nodeName)!.accelerators.find((a) => a.id === accId)!;
          expect(mib).toBeLessThanOrEqual(acc.memoryMiB);
        }
      }),
      RUNS,
    );
  });

  it('never assigns a precision the accelerator lacks or the battery cap forbids', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        for (const p of planDeployment(input).placements) {
          const acc = input.nodes.find((n) => n.name === p.node)!.accelerators.find((a) => a.id === p.accelerator)!;
          expect(supports(acc, p.precision)).toBe(true);
          expect(allowedUnder(p.precision, p.cap)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('never places more than maxPerNode replicas on a node, nor on a node the filters refuse', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const result = planDeployment(input);
        const perNode = new Map<string, number>();
        for (const p of result.placements) {
          perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
          const view = input.nodes.find((n) => n.name === p.node)!;
          expect(view.ready && !view.unschedulable).toBe(true);
        }
        for (const count of perNode.values()) expect(count).toBeLessThanOrEqual(input.spec.placement.maxPerNode);
        expect(result.placements.length + result.unplaced).toBe(input.spec.replicas);
        expect(result.message !== undefined).toBe(result.unplaced > 0);
      }),
      RUNS,
    );
  });

  it('gives the same output for the same input, whatever the node order', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const first = planDeployment(input);
        expect(planDeployment(input)).toEqual(first);
        expect(planDeployment({ ...input, nodes: [...input.nodes].reverse() })).toEqual(first);
      }),
      RUNS,
    );
  });

  it('matches the reference planner exactly', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        expect(planDeployment(input)).toEqual(planDeploymentReference(input));
      }),
      RUNS,
    );
  });
});
