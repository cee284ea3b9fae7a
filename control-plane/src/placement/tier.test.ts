import { describe, expect, it } from 'vitest';
import type { Power } from '@edgeplane/api';
import { gpu, makeSpec, node, npu, sha, variant } from './fixtures.ts';
import type { SpecInput } from './fixtures.ts';
import { planDeployment } from './plan.ts';
import type { NodeView, Placement } from './types.ts';

// On gpu() (fp32 10, fp16 20, int8 40 TOPS) at efficiency 0.3 a 30-GFLOP model takes
// 30 / (TOPS * 0.3) ms: A 10 ms, B 5 ms, C 2.5 ms; the lite model L takes 0.5 ms.
const variants = [
  variant('A', { precision: 'fp32', accuracy: 0.92, gflops: 30 }),
  variant('B', { precision: 'fp16', accuracy: 0.9, gflops: 30 }),
  variant('C', { precision: 'int8', accuracy: 0.85, gflops: 30 }),
  variant('L', { precision: 'int8', profile: 'lite', accuracy: 0.8, gflops: 6 }),
];

function placeOne(spec: Partial<SpecInput>, view: NodeView, current: Placement[] = []): Placement {
  const result = planDeployment({
    key: 'ns/d',
    spec: makeSpec({ model: { name: 'm', task: 't', variants }, ...spec }),
    nodes: [view],
    current,
    committedMiB: new Map(),
  });
  expect(result.placements).toHaveLength(1);
  return result.placements[0]!;
}

const slo = (latencyMs: number, minAccuracy = 0) => ({ slo: { latencyMs, minAccuracy } });
const objective = (o: 'accuracy' | 'latency' | 'energy') => ({ tiering: { objective: o } });
const battery = (batteryPercent: number, charging = false): Partial<NodeView> => ({ power: { source: 'battery', batteryPercent, charging } as Power });
// A GPU that is fast but hungry beside an NPU that is slow but frugal.
const mixed = { accelerators: [gpu(), npu({ watts: 2 })] };

describe('tier choice', () => {
  const rows: Array<{ name: string; spec: Partial<SpecInput>; node: Partial<NodeView>; want: string; accelerator?: string; reason?: RegExp }> = [
    { name: 'accuracy: most accurate within a loose SLO', spec: slo(20), node: {}, want: 'A', reason: /most accurate within 20 ms: A on gpu0 at 10 ms predicted/ },
    { name: 'accuracy: a tighter SLO drops to fp16', spec: slo(8), node: {}, want: 'B' },
    { name: 'accuracy: tighter still, int8', spec: slo(3), node: {}, want: 'C' },
    { name: 'accuracy: only the lite model meets 1 ms', spec: slo(1), node: {}, want: 'L' },
    { name: 'accuracy: nothing meets the SLO, best effort fastest', spec: slo(0.1), node: {}, want: 'L', reason: /no variant meets 0.1 ms here: best effort L/ },
    { name: 'accuracy: best effort stays above minAccuracy', spec: slo(3, 0.86), node: {}, want: 'B', reason: /best effort B/ },
    { name: 'latency: fastest meeting minAccuracy', spec: { ...slo(20, 0.84), ...objective('latency') }, node: {}, want: 'C', reason: /fastest with accuracy >= 0.84: C/ },
    { name: 'latency: fastest of all without minAccuracy', spec: { ...slo(20), ...objective('latency') }, node: {}, want: 'L' },
    { name: 'latency: says so when even the fastest misses', spec: { ...slo(0.1), ...objective('latency') }, node: {}, want: 'L', reason: /best effort over the 0.1 ms SLO/ },
    { name: 'energy: the frugal NPU when it meets the SLO', spec: { ...slo(20, 0.85), ...objective('energy') }, node: mixed, want: 'C', accelerator: 'npu0', reason: /least energy within 20 ms: C on npu0/ },
    { name: 'energy: the GPU when the NPU is too slow', spec: { ...slo(10, 0.85), ...objective('energy') }, node: mixed, want: 'C', accelerator: 'gpu0' },
    { name: 'accuracy on the same mixed node prefers the GPU', spec: slo(20, 0.85), node: mixed, want: 'A', accelerator: 'gpu0' },
    { name: 'battery 40% caps at fp16', spec: slo(20), node: battery(40), want: 'B', reason: /^battery 40% below 50%: capped at fp16; / },
    { name: 'battery 10% caps at int8', spec: slo(20), node: battery(10), want: 'C', reason: /^battery 10% below 20%: capped at int8; / },
    { name: 'a charging battery has no cap', spec: slo(20), node: battery(10, true), want: 'A' },
    { name: 'cellular-4g forces lite', spec: slo(20), node: { network: { type: 'cellular-4g', bandwidthMbps: 20 } }, want: 'L', reason: /^cellular-4g link: lite profile; / },
    { name: 'lora forces lite', spec: slo(20), node: { network: { type: 'lora', bandwidthMbps: 5 } }, want: 'L' },
    { name: 'cellular-4g keeps a cached full variant', spec: slo(20), node: { network: { type: 'cellular-4g', bandwidthMbps: 20 }, cachedArtifacts: new Set([sha('A')]) }, want: 'A', reason: /full variant already cached/ },
    { name: 'cellular-5g is not lite-only by default', spec: slo(20), node: { network: { type: 'cellular-5g', bandwidthMbps: 100 } }, want: 'A' },
    { name: 'liteOn is the deployment\'s choice', spec: { ...slo(20), tiering: { network: { liteOn: [] } } }, node: { network: { type: 'cellular-4g', bandwidthMbps: 20 } }, want: 'A' },
    { name: 'battery cap and lite link together', spec: slo(20), node: { ...battery(10), network: { type: 'cellular-4g', bandwidthMbps: 20 } }, want: 'L', reason: /capped at int8; cellular-4g link: lite profile/ },
    // A measured at 5x its prediction: B and C are predicted on that scale too (25 and 12.5 ms).
    { name: 'measured p99 replaces the prediction and calibrates the rest', spec: slo(20), node: { measuredP99Ms: new Map([[`${sha('A')}@gpu0`, 50]]) }, want: 'C' },
    { name: 'a measurement close to prediction leaves the others as predicted', spec: slo(20), node: { measuredP99Ms: new Map([[`${sha('A')}@gpu0`, 30]]) }, want: 'B' },
    { name: 'an unmeasured variant is predicted on the measured scale', spec: { ...slo(50), ...objective('latency') }, node: { measuredP99Ms: new Map([[`${sha('C')}@gpu0`, 25]]) }, want: 'L', reason: /L on gpu0 at 5 ms predicted/ },
    { name: 'a measured p99 is reported as measured', spec: slo(20), node: { measuredP99Ms: new Map([[`${sha('A')}@gpu0`, 12]]) }, want: 'A', reason: /A on gpu0 at 12 ms measured/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const p = placeOne(row.spec, node('n', row.node));
      expect(p.variant).toBe(row.want);
      if (row.accelerator !== undefined) expect(p.accelerator).toBe(row.accelerator);
      if (row.reason !== undefined) expect(p.tierReason).toMatch(row.reason);
    });
  }

  it('does not flap between a measured variant and an equally accurate unmeasured one', () => {
    // Two variants of equal accuracy; whichever runs is measured at 10x its prediction.
    const twins = [variant('S', { precision: 'int8', accuracy: 0.9, gflops: 30 }), variant('H', { precision: 'fp16', accuracy: 0.9, gflops: 30 })];
    const plan = (measuredVariant: string, ms: number) =>
      planDeployment({
        key: 'ns/d',
        spec: makeSpec({ model: { name: 'm', task: 't', variants: twins }, slo: { latencyMs: 50 } }),
        nodes: [node('n', { measuredP99Ms: new Map([[`${sha(measuredVariant)}@gpu0`, ms]]) })],
        current: [],
        committedMiB: new Map(),
      }).placements[0]!.variant;
    // S (int8) predicts 2.5 ms, H (fp16) 5 ms: measured S at 25 ms puts H at 50, so S stays;
    // measured H at 50 ms puts S at 25, so S is chosen. Both lead to S: no ping-pong.
    expect(plan('S', 25)).toBe('S');
    expect(plan('H', 50)).toBe('S');
  });

  it('predicted p99 is gflops / (TOPS * 1000 * efficiency) seconds, in ms', () => {
    const p = placeOne(slo(20), node('n'));
    expect(p.predictedP99Ms).toBeCloseTo((30 / (10 * 1000 * 0.3)) * 1000, 9);
  });
});

describe('battery hysteresis across reconciles', () => {
  /** Plans once per battery level, feeding each result back as the current placements. */
  function walk(levels: number[]): string[] {
    let current: Placement[] = [];
    return levels.map((batteryPercent) => {
      const p = placeOne(slo(20), node('n', battery(batteryPercent)), current);
      current = [p];
      return p.variant;
    });
  }

  it('oscillating +-2% around the int8 threshold does not flap', () => {
    expect(walk([18, 22, 18, 22, 18, 22])).toEqual(['C', 'C', 'C', 'C', 'C', 'C']);
  });

  it('oscillating +-2% around the fp16 threshold does not flap', () => {
    expect(walk([52, 48, 52, 48, 52])).toEqual(['A', 'B', 'B', 'B', 'B']);
  });

  it('tightens at once and relaxes only past the hysteresis band', () => {
    expect(walk([60, 45, 19, 24, 25, 54, 55])).toEqual(['A', 'B', 'C', 'C', 'B', 'B', 'A']);
  });
});

describe('upgrade hold', () => {
  // A measured at 12 ms (1.2x its 10 ms prediction) is the most accurate within 50 ms; C runs now.
  const spec = makeSpec({ model: { name: 'm', task: 't', variants }, slo: { latencyMs: 50 } });
  const current = (sinceMs: number, fields: Partial<Placement> = {}): Placement => ({
    deployment: 'ns/d',
    node: 'n',
    accelerator: 'gpu0',
    variant: 'C',
    precision: 'int8',
    profile: 'full',
    cap: 'fp32',
    predictedP99Ms: 3,
    tierReason: '',
    sinceMs,
    ...fields,
  });
  const plan = (nowMs: number | undefined, cur: Placement, view: Partial<NodeView> = {}) =>
    planDeployment({ key: 'ns/d', spec, nodes: [node('n', { measuredP99Ms: new Map([[`${sha('C')}@gpu0`, 3]]), ...view })], current: [cur], committedMiB: new Map(), ...(nowMs !== undefined ? { nowMs } : {}) }).placements[0]!;

  const rows: Array<{ name: string; nowMs: number | undefined; cur: Placement; view?: Partial<NodeView>; want: string; since?: number }> = [
    { name: 'a slower, more accurate variant waits while the current one is recent', nowMs: 10_000, cur: current(0), want: 'C', since: 0 },
    { name: 'and takes over once the hold has passed', nowMs: 31_000, cur: current(0), want: 'A', since: 31_000 },
    { name: 'no clock, no hold', nowMs: undefined, cur: current(0), want: 'A' },
    { name: 'a cap that was lifted is a real change, not noise', nowMs: 10_000, cur: current(0, { cap: 'int8' }), want: 'A' },
    {
      name: 'leaving a lite-only link is a real change, not noise',
      nowMs: 10_000,
      cur: current(0, { variant: 'L', profile: 'lite' }),
      view: { measuredP99Ms: new Map([[`${sha('L')}@gpu0`, 0.6]]) },
      want: 'A',
    },
    { name: 'a cap that tightens moves at once', nowMs: 10_000, cur: current(0, { variant: 'A', precision: 'fp32' }), view: { power: { source: 'battery', batteryPercent: 10 } as Power }, want: 'C' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const p = plan(row.nowMs, row.cur, row.view);
      expect(p.variant).toBe(row.want);
      if (row.since !== undefined) expect(p.sinceMs).toBe(row.since);
    });
  }
});
