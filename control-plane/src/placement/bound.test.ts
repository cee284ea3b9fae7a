// The score bound the heap chooser ranks unevaluated nodes by, on fleets large enough that most
// nodes wait in its reserve: a bound below a node's score, or a reserve released too late, would
// change which node wins, so the plans must still be the reference planner's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LinkType, Power } from '@edgeplane/api';
import { LINK_TYPES } from '@edgeplane/api';
import { nodeBounds } from './bound.ts';
import { cpu, gpu, makeSpec, npu, sha, variant } from './fixtures.ts';
import { planDeployment, planDeploymentReference } from './plan.ts';
import { preparePlan } from './prepare.ts';
import type { NodeView, PlanInput } from './types.ts';

const VARIANTS = ['b-fp32', 'b-fp16', 'b-int8', 'b-lite'];

/** A few hardware kinds, so pair classes form, and a CPU box whose TOPS no other node shares. */
const KINDS = [[gpu(), cpu()], [npu({ memoryMiB: 300 }), cpu()], [gpu({ memoryMiB: 600, tops: { fp32: 2, fp16: 8, int8: 30 } })]];
const hardware = fc.oneof(
  fc.constantFrom(...KINDS),
  fc.double({ min: 0.2, max: 4, noNaN: true }).map((t) => [cpu({ tops: { fp32: t, int8: t * 4 } })]),
);

const nodeView = (name: string): fc.Arbitrary<NodeView> =>
  fc
    .record({
      accelerators: hardware,
      site: fc.constantFrom('a', 'b', 'c', 'd'),
      ready: fc.integer({ min: 0, max: 19 }).map((n) => n > 0),
      battery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined, freq: 3 }),
      link: fc.constantFrom(...LINK_TYPES) as fc.Arbitrary<LinkType>,
      bandwidthMbps: fc.option(fc.double({ min: 0.01, max: 1000, noNaN: true }), { nil: undefined, freq: 8 }),
      cached: fc.subarray(VARIANTS, { maxLength: 2 }),
      measured: fc.option(fc.tuple(fc.constantFrom(...VARIANTS), fc.double({ min: 0.1, max: 200, noNaN: true })), { nil: undefined, freq: 10 }),
      util: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
    })
    .map((r): NodeView => {
      const power: Power = r.battery === undefined ? { source: 'mains' } : { source: 'battery', batteryPercent: r.battery };
      return {
        name,
        labels: { site: r.site },
        unschedulable: false,
        ready: r.ready,
        accelerators: r.accelerators,
        power,
        network: { type: r.link, ...(r.bandwidthMbps !== undefined ? { bandwidthMbps: r.bandwidthMbps } : {}) },
        cachedArtifacts: new Set(r.cached.map(sha)),
        measuredP99Ms: new Map(r.measured === undefined ? [] : [[`${sha(r.measured[0])}@${r.accelerators[0]!.id}`, r.measured[1]]]),
        utilization: new Map(r.accelerators.map((a, k) => [a.id, r.util[k % 2]!])),
      };
    });

const planInput = fc
  .record({
    nodes: fc.integer({ min: 700, max: 900 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeView(`node-${String(i).padStart(4, '0')}`)))),
    replicas: fc.integer({ min: 1, max: 40 }),
    maxPerNode: fc.integer({ min: 1, max: 2 }),
    spread: fc.boolean(),
    objective: fc.constantFrom('accuracy', 'latency', 'energy') as fc.Arbitrary<'accuracy' | 'latency' | 'energy'>,
    latencyMs: fc.constantFrom(5, 20, 100),
    memoryMiB: fc.integer({ min: 50, max: 500 }),
    committed: fc.array(fc.tuple(fc.integer({ min: 0, max: 699 }), fc.integer({ min: 0, max: 8000 })), { maxLength: 300 }),
  })
  .map((r): PlanInput => ({
    key: 'ns/b',
    nodes: r.nodes,
    current: [],
    committedMiB: new Map(r.committed.map(([n, mib]) => [`node-${String(n).padStart(4, '0')}/gpu0`, mib])),
    spec: makeSpec({
      model: {
        name: 'b',
        task: 't',
        variants: [
          variant(VARIANTS[0]!, { precision: 'fp32', accuracy: 0.9, gflops: 8, memoryMiB: r.memoryMiB * 4 }),
          variant(VARIANTS[1]!, { precision: 'fp16', accuracy: 0.88, gflops: 8, memoryMiB: r.memoryMiB * 2 }),
          variant(VARIANTS[2]!, { precision: 'int8', accuracy: 0.85, gflops: 8, memoryMiB: r.memoryMiB }),
          variant(VARIANTS[3]!, { precision: 'int8', profile: 'lite', accuracy: 0.8, gflops: 2, memoryMiB: Math.ceil(r.memoryMiB / 2) }),
        ],
      },
      replicas: r.replicas,
      placement: { maxPerNode: r.maxPerNode, spreadBy: r.spread ? 'site' : undefined },
      slo: { latencyMs: r.latencyMs },
      tiering: { objective: r.objective },
    }),
  }));

// No shrinking: a counterexample is a fleet of hundreds of nodes.
const RUNS = { numRuns: 12, endOnFailure: true };

describe('score bound', () => {
  it('is never below the score of a node that can take a replica', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const ctx = preparePlan(input);
        const scores = Float64Array.from(ctx.localScore);
        const admitted = Uint8Array.from(ctx.staticOk);
        ctx.evaluated.fill(0);
        const bounds = nodeBounds(ctx);
        let checked = 0;
        for (let i = 0; i < ctx.nodes.length; i++) {
          if (admitted[i] === 0 || Number.isNaN(scores[i]!)) continue;
          expect(bounds[i]!).toBeGreaterThanOrEqual(scores[i]!);
          checked++;
        }
        expect(checked).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('leaves the plans of large fleets those of the reference planner', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const fast = planDeployment(input);
        expect(fast).toEqual(planDeploymentReference(input));
        // And again with those placements current: kept replicas, then the rest.
        const current = fast.placements.filter((_, i) => i % 2 === 0);
        expect(planDeployment({ ...input, current })).toEqual(planDeploymentReference({ ...input, current }));
      }),
      RUNS,
    );
  });
});
