// Pair classes rank the pairs of nodes with equal hardware once per plan. The reference planner
// scans every node's pairs one by one, so on fleets drawn from a few kinds of hardware (where
// most nodes share a class) both planners must still return the same plan.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Accelerator, LinkType } from '@edgeplane/api';
import { LINK_TYPES, PRECISIONS } from '@edgeplane/api';
import { cpu, gpu, makeSpec, npu, sha, variant } from './fixtures.ts';
import { planDeployment, planDeploymentReference } from './plan.ts';
import type { NodeView, Placement, PlanInput } from './types.ts';

const VARIANTS = ['v0', 'v1', 'v2', 'v3'];

/** A handful of hardware kinds, so that many nodes share one. */
const KINDS: ReadonlyArray<() => Accelerator[]> = [
  () => [gpu(), cpu()],
  () => [gpu({ memoryMiB: 2048 }), cpu()],
  () => [npu(), cpu({ memoryMiB: 1024 })],
  () => [npu({ memoryMiB: 300 })],
  () => [cpu()],
  () => [],
];

const nodeView = (name: string): fc.Arbitrary<NodeView> =>
  fc
    .record({
      kind: fc.integer({ min: 0, max: KINDS.length - 1 }),
      site: fc.constantFrom('x', 'y', 'z'),
      ready: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
      unschedulable: fc.integer({ min: 0, max: 15 }).map((n) => n === 0),
      battery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
      link: fc.constantFrom(...LINK_TYPES) as fc.Arbitrary<LinkType>,
      bandwidthMbps: fc.option(fc.constantFrom(0, 0.05, 2, 50, 1000), { nil: undefined }),
      cached: fc.subarray(VARIANTS, { maxLength: 2 }),
      measured: fc.option(fc.tuple(fc.constantFrom(...VARIANTS), fc.double({ min: 0.5, max: 200, noNaN: true })), { nil: undefined, freq: 4 }),
      util: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map((r): NodeView => {
      const accelerators = KINDS[r.kind]!();
      return {
        name,
        labels: { site: r.site },
        unschedulable: r.unschedulable,
        ready: r.ready,
        accelerators,
        power: r.battery === undefined ? { source: 'mains' } : { source: 'battery', batteryPercent: r.battery },
        network: { type: r.link, ...(r.bandwidthMbps !== undefined ? { bandwidthMbps: r.bandwidthMbps } : {}) },
        cachedArtifacts: new Set(r.cached.map(sha)),
        measuredP99Ms: new Map(r.measured !== undefined && accelerators.length > 0 ? [[`${sha(r.measured[0])}@${accelerators[0]!.id}`, r.measured[1]]] : []),
        utilization: new Map(accelerators.map((a) => [a.id, r.util])),
      };
    });

const fleet = fc
  .uniqueArray(fc.integer({ min: 0, max: 199 }), { minLength: 1, maxLength: 40 })
  .chain((ids) => fc.tuple(...ids.map((i) => nodeView(`node-${String(i).padStart(3, '0')}`))));

const planInput: fc.Arbitrary<PlanInput> = fc
  .record({
    nodes: fleet,
    variants: fc.array(
      fc.record({
        precision: fc.constantFrom(...PRECISIONS),
        profile: fc.constantFrom('full', 'lite') as fc.Arbitrary<'full' | 'lite'>,
        accuracy: fc.constantFrom(0.6, 0.7, 0.8, 0.9),
        gflops: fc.constantFrom(1, 4, 16),
        memoryMiB: fc.constantFrom(50, 200, 800),
        sizeBytes: fc.constantFrom(1_000_000, 50_000_000, 400_000_000),
      }),
      { minLength: 1, maxLength: VARIANTS.length },
    ),
    replicas: fc.integer({ min: 0, max: 30 }),
    maxPerNode: fc.integer({ min: 1, max: 3 }),
    spread: fc.boolean(),
    objective: fc.constantFrom('accuracy', 'latency', 'energy') as fc.Arbitrary<'accuracy' | 'latency' | 'energy'>,
    latencyMs: fc.constantFrom(1, 5, 20, 100),
    liteOn: fc.subarray([...LINK_TYPES]),
    committed: fc.array(fc.tuple(fc.integer({ min: 0, max: 199 }), fc.constantFrom('gpu0', 'cpu0', 'npu0'), fc.constantFrom(100, 1000, 4000)), { maxLength: 15 }),
    keepHalf: fc.boolean(),
  })
  .map((r) => {
    const spec = makeSpec({
      model: { name: 'm', task: 't', variants: r.variants.map((v, i) => variant(VARIANTS[i]!, v)) },
      replicas: r.replicas,
      placement: { maxPerNode: r.maxPerNode, spreadBy: r.spread ? 'site' : undefined },
      slo: { latencyMs: r.latencyMs },
      tiering: { objective: r.objective, network: { liteOn: r.liteOn } },
    });
    const base = {
      key: 'ns/d',
      spec,
      nodes: r.nodes,
      committedMiB: new Map(r.committed.map(([n, a, mib]) => [`node-${String(n).padStart(3, '0')}/${a}`, mib])),
    };
    const current: Placement[] = r.keepHalf ? planDeployment({ ...base, current: [] }).placements.filter((_, i) => i % 2 === 0) : [];
    return { ...base, current };
  });

describe('pair classes', () => {
  it('give the plan the reference planner computes without them', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        expect(planDeployment(input)).toEqual(planDeploymentReference(input));
      }),
      { numRuns: 300 },
    );
  });
});
