// Variant tables and pair classes are kept per variants list from one plan to the next. Plans
// of one spec (or of specs sharing its variants with another SLO, objective or pricing) over one
// node list whose views are replaced between them must still be the reference planner's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LinkType } from '@edgeplane/api';
import { LINK_TYPES } from '@edgeplane/api';
import { cpu, gpu, makeSpec, node, npu, sha, variant } from './fixtures.ts';
import { planDeployment, planDeploymentReference } from './plan.ts';
import type { NodeView, PlanInput } from './types.ts';

const KINDS = [() => [gpu(), cpu()], () => [npu(), cpu({ memoryMiB: 1024 })], () => [gpu({ memoryMiB: 2048 })]];
const NAMES = ['v0', 'v1', 'v2', 'v3'];

/** What a heartbeat can change in a view: battery, link, bandwidth, cache, readiness. */
const change = fc.record({
  at: fc.nat(),
  battery: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  link: fc.constantFrom(...LINK_TYPES) as fc.Arbitrary<LinkType>,
  bandwidthMbps: fc.option(fc.constantFrom(0.05, 2, 50, 1000), { nil: undefined }),
  cached: fc.subarray(NAMES, { maxLength: 2 }),
  ready: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
});

const step = fc.record({
  changes: fc.array(change, { maxLength: 6 }),
  latencyMs: fc.constantFrom(5, 20, 100),
  objective: fc.constantFrom('accuracy', 'latency', 'energy') as fc.Arbitrary<'accuracy' | 'latency' | 'energy'>,
  efficiency: fc.constantFrom(0.3, 0.6),
  replicas: fc.integer({ min: 1, max: 12 }),
});

describe('facts kept per variants list', () => {
  it('leave every plan of a sequence over a changing node list the reference planner’s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 24 }), fc.array(step, { minLength: 2, maxLength: 6 }), fc.boolean(), (count, steps, frozen) => {
        const seal = (v: NodeView): NodeView => (frozen ? Object.freeze(v) : v);
        const nodes: NodeView[] = Array.from({ length: count }, (_, i) => seal(node(`n${String(i).padStart(2, '0')}`, { accelerators: KINDS[i % KINDS.length]!() })));
        const base = makeSpec({
          model: {
            name: 'm',
            task: 't',
            variants: [
              variant('v0', { precision: 'fp32', accuracy: 0.9, memoryMiB: 800, sizeBytes: 400_000_000 }),
              variant('v1', { precision: 'fp16', accuracy: 0.85, memoryMiB: 300, sizeBytes: 100_000_000 }),
              variant('v2', { precision: 'int8', accuracy: 0.8, memoryMiB: 100, sizeBytes: 50_000_000 }),
              variant('v3', { precision: 'int8', profile: 'lite', accuracy: 0.7, gflops: 1, memoryMiB: 50, sizeBytes: 5_000_000 }),
            ],
          },
          tiering: { network: { liteOn: ['lora', 'cellular-4g'] } },
        });
        for (const s of steps) {
          for (const c of s.changes) {
            const i = c.at % count;
            nodes[i] = seal({
              ...nodes[i]!,
              ready: c.ready,
              power: c.battery === undefined ? { source: 'mains' } : { source: 'battery', batteryPercent: c.battery },
              network: { type: c.link, ...(c.bandwidthMbps !== undefined ? { bandwidthMbps: c.bandwidthMbps } : {}) },
              cachedArtifacts: new Set(c.cached.map(sha)),
            });
          }
          // The same variants array, another SLO, objective and replica count.
          const spec = { ...base, replicas: s.replicas, slo: { ...base.slo, latencyMs: s.latencyMs }, tiering: { ...base.tiering, objective: s.objective } };
          const input: PlanInput = { key: 'ns/d', spec, nodes, current: [], committedMiB: new Map(), options: { efficiency: s.efficiency } };
          expect(planDeployment(input)).toEqual(planDeploymentReference(input));
        }
      }),
      { numRuns: 150 },
    );
  });
});
