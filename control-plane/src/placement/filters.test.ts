import { describe, expect, it } from 'vitest';
import { filterPlugins, runFilters } from './filters.ts';
import { cpu, gpu, makeSpec, node, npu, sha, variant } from './fixtures.ts';
import type { SpecInput } from './fixtures.ts';
import { planDeployment } from './plan.ts';
import { preparePlan } from './prepare.ts';
import type { NodeView, PlacementOptions } from './types.ts';

/** The first failing filter's reason for a single node, or undefined when it passes. */
function reasonFor(spec: Partial<SpecInput>, view: NodeView, committed: Array<[string, number]> = [], options: Partial<PlacementOptions> = {}) {
  const ctx = preparePlan({ key: 'ns/d', spec: makeSpec(spec), nodes: [view], current: [], committedMiB: new Map(committed), options });
  return runFilters(filterPlugins, ctx, ctx.nodes[0]!).reason;
}

const sel = (selector: NonNullable<SpecInput['placement']>['selector']): Partial<SpecInput> => ({ placement: { selector } });
const onlyInt8 = { model: { name: 'm', task: 't', variants: [variant('i8', { precision: 'int8' as const })] } };
const onlyFp32 = { model: { name: 'm', task: 't', variants: [variant('f32', { precision: 'fp32' as const })] } };
const big = { model: { name: 'm', task: 't', variants: [variant('big', { sizeBytes: 1_000_000_000 })] } };

describe('filter plugins', () => {
  const site = { 'topology.edgeplane.io/site': 'berlin', arch: 'arm64' };
  const rows: Array<{ name: string; spec?: Partial<SpecInput>; node: NodeView; committed?: Array<[string, number]>; options?: Partial<PlacementOptions>; want: string | undefined }> = [
    { name: 'a plain node passes', node: node('n'), want: undefined },
    { name: 'matchLabels matches', spec: sel({ matchLabels: { arch: 'arm64' } }), node: node('n', { labels: site }), want: undefined },
    { name: 'matchLabels mismatch', spec: sel({ matchLabels: { arch: 'amd64' } }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'matchLabels on a missing label', spec: sel({ matchLabels: { zone: 'a' } }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'In matches', spec: sel({ matchExpressions: [{ key: 'arch', operator: 'In', values: ['amd64', 'arm64'] }] }), node: node('n', { labels: site }), want: undefined },
    { name: 'In without the label', spec: sel({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'NotIn excludes', spec: sel({ matchExpressions: [{ key: 'arch', operator: 'NotIn', values: ['arm64'] }] }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'NotIn passes a node without the label', spec: sel({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }), node: node('n', { labels: site }), want: undefined },
    { name: 'Exists', spec: sel({ matchExpressions: [{ key: 'arch', operator: 'Exists' }] }), node: node('n', { labels: site }), want: undefined },
    { name: 'Exists without the label', spec: sel({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'DoesNotExist', spec: sel({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }), node: node('n', { labels: site }), want: undefined },
    { name: 'DoesNotExist with the label', spec: sel({ matchExpressions: [{ key: 'arch', operator: 'DoesNotExist' }] }), node: node('n', { labels: site }), want: "didn't match the node selector" },
    { name: 'cordoned', node: node('n', { unschedulable: true }), want: 'unschedulable' },
    { name: 'not ready', node: node('n', { ready: false }), want: 'not Ready' },
    { name: 'the first failing filter wins', node: node('n', { unschedulable: true, ready: false }), want: 'unschedulable' },
    { name: 'NPU lacks fp32', spec: onlyFp32, node: node('n', { accelerators: [npu()] }), want: 'no accelerator supports fp32' },
    { name: 'a precision listed without TOPS is unsupported', spec: onlyInt8, node: node('n', { accelerators: [gpu({ tops: { fp32: 10 } })] }), want: 'no accelerator supports int8' },
    { name: 'TOPS without the precision listed is unsupported', spec: onlyInt8, node: node('n', { accelerators: [gpu({ precisions: ['fp32'] })] }), want: 'no accelerator supports int8' },
    {
      name: 'battery cap leaves only precisions the node lacks',
      spec: { model: { name: 'm', task: 't', variants: [variant('f32'), variant('f16', { precision: 'fp16' })] } },
      node: node('n', { accelerators: [cpu({ precisions: ['fp32'], tops: { fp32: 1 } })], power: { source: 'battery', batteryPercent: 30 } }),
      want: 'no accelerator supports fp16',
    },
    {
      name: 'battery cap leaves no variant accurate enough',
      spec: { model: { name: 'm', task: 't', variants: [variant('f32', { accuracy: 0.9 }), variant('i8', { precision: 'int8', accuracy: 0.5 })] }, slo: { latencyMs: 50, minAccuracy: 0.8 } },
      node: node('n', { power: { source: 'battery', batteryPercent: 10 } }),
      want: 'no variant within the int8 battery cap meets minAccuracy 0.8',
    },
    {
      name: 'cellular-4g needs a lite variant the node can run',
      spec: { model: { name: 'm', task: 't', variants: [variant('full', { precision: 'int8' }), variant('lite', { precision: 'fp16', profile: 'lite' })] } },
      node: node('n', { accelerators: [npu()], network: { type: 'cellular-4g', bandwidthMbps: 20 } }),
      want: 'cellular-4g link needs a lite variant and no accelerator supports one',
    },
    {
      name: 'cellular-4g accepts a cached full variant',
      spec: { model: { name: 'm', task: 't', variants: [variant('full', { precision: 'int8' }), variant('lite', { precision: 'fp16', profile: 'lite' })] } },
      node: node('n', { accelerators: [npu()], network: { type: 'cellular-4g', bandwidthMbps: 20 }, cachedArtifacts: new Set([sha('full')]) }),
      want: undefined,
    },
    { name: 'link too slow for the deadline', spec: big, node: node('n', { network: { type: 'wifi', bandwidthMbps: 10 } }), want: 'link cannot fetch the model within 300s' },
    { name: 'a cached artifact needs no fetch', spec: big, node: node('n', { network: { type: 'wifi', bandwidthMbps: 10 }, cachedArtifacts: new Set([sha('big')]) }), want: undefined },
    { name: 'an unmeasured link is not refused', spec: big, node: node('n', { network: { type: 'wifi' } }), want: undefined },
    { name: 'a dead link is refused', spec: big, node: node('n', { network: { type: 'wifi', bandwidthMbps: 0 } }), want: 'link cannot fetch the model within 300s' },
    { name: 'a longer deadline admits a slow link', spec: big, node: node('n', { network: { type: 'wifi', bandwidthMbps: 10 } }), options: { fetchDeadlineSec: 1000 }, want: undefined },
    { name: 'memory committed by others', spec: onlyFp32, node: node('n'), committed: [['n/gpu0', 8100]], want: 'insufficient accelerator memory' },
    { name: 'memory exactly full still fits', spec: onlyFp32, node: node('n'), committed: [['n/gpu0', 8092]], want: undefined },
    {
      name: 'memory on one accelerator is not memory on another',
      spec: onlyFp32,
      node: node('n', { accelerators: [gpu({ memoryMiB: 50 }), cpu({ memoryMiB: 50 })] }),
      want: 'insufficient accelerator memory',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(reasonFor(row.spec ?? {}, row.node, row.committed, row.options)).toBe(row.want);
    });
  }

  it('maxPerNode counts replicas placed earlier in the same plan', () => {
    const result = planDeployment({
      key: 'ns/d',
      spec: makeSpec({ replicas: 3, placement: { maxPerNode: 2 } }),
      nodes: [node('n')],
      current: [],
      committedMiB: new Map(),
    });
    expect(result.placements.map((p) => p.node)).toEqual(['n', 'n']);
    expect(result.unplaced).toBe(1);
    expect(result.message).toBe('0/1 nodes are available: 1 at maxPerNode (2).');
  });

  it('memory counts replicas placed earlier in the same plan', () => {
    const result = planDeployment({
      key: 'ns/d',
      spec: makeSpec({ ...onlyFp32, replicas: 3, placement: { maxPerNode: 5 } }),
      nodes: [node('n', { accelerators: [gpu({ memoryMiB: 250 })] })],
      current: [],
      committedMiB: new Map(),
    });
    expect(result.placements).toHaveLength(2);
    expect(result.message).toBe('0/1 nodes are available: 1 insufficient accelerator memory.');
  });
});
