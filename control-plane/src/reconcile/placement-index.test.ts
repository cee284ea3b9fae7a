import { describe, expect, it } from 'vitest';
import type { EdgeModelDeploymentSpec } from '@edgeplane/api';
import { EdgeModelDeploymentSpec as SpecSchema } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { PlacementIndex } from './placement-index.ts';
import { assignmentDocument, nodeWorkloads } from '../fleet/assignment.ts';
import { Assignment, encode, MAX_WORKLOADS_PER_NODE } from '@edgeplane/api';

const p = (deployment: string, node: string, accelerator = 'gpu0', variant = 'v-fp16'): Placement => ({
  deployment,
  node,
  accelerator,
  variant,
  precision: 'fp16',
  profile: 'full',
  cap: 'fp32',
  predictedP99Ms: 5,
  tierReason: '',
});

const spec = (name: string): EdgeModelDeploymentSpec =>
  SpecSchema.parse({
    model: {
      name,
      task: 'detect',
      variants: [{ name: 'v-fp16', precision: 'fp16', uri: 'https://x/m.onnx', sha256: 'a'.repeat(64), sizeBytes: 10, accuracy: 0.9, gflops: 1, memoryMiB: 300 }],
    },
    replicas: 2,
    slo: { latencyMs: 50 },
  });

describe('PlacementIndex', () => {
  it('reports the nodes a change touches and indexes by node', () => {
    const idx = new PlacementIndex();
    expect([...idx.set('ns/a', [p('ns/a', 'n1'), p('ns/a', 'n2')])].sort()).toEqual(['n1', 'n2']);
    idx.set('ns/b', [p('ns/b', 'n2')]);
    expect(idx.keysOnNode('n2')).toEqual(['ns/a', 'ns/b']);
    // Moving a replica from n1 to n3 touches both.
    expect([...idx.set('ns/a', [p('ns/a', 'n3'), p('ns/a', 'n2')])].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(idx.keysOnNode('n1')).toEqual([]);
    expect([...idx.delete('ns/b')]).toEqual(['n2']);
    expect(idx.keysOnNode('n2')).toEqual(['ns/a']);
  });

  it('sums committed memory of the other deployments per accelerator', () => {
    const idx = new PlacementIndex();
    idx.set('ns/a', [p('ns/a', 'n1'), p('ns/a', 'n1', 'npu0')]);
    idx.set('ns/b', [p('ns/b', 'n1'), p('ns/b', 'n1')]);
    const committed = idx.committedMiB('ns/a', () => 100);
    expect(Object.fromEntries(committed)).toEqual({ 'n1/gpu0': 200 });
  });

  it('keeps committed memory as running totals equal to a sum from scratch', () => {
    const idx = new PlacementIndex();
    const mem = new Map([['v-fp16', 100]]);
    const memoryOf = (q: Placement) => mem.get(q.variant) ?? 0;
    let version = 1;
    const versionOf = () => version;
    // The same sum over a new index holding the same placements.
    const fresh = (except: string) => {
      const c = new PlacementIndex();
      for (const k of idx.keys()) c.set(k, idx.get(k));
      return Object.fromEntries(c.committedMiB(except, memoryOf));
    };
    idx.set('ns/a', [p('ns/a', 'n1'), p('ns/a', 'n2')]);
    idx.set('ns/b', [p('ns/b', 'n1'), p('ns/b', 'n3', 'npu0')]);
    expect(Object.fromEntries(idx.committedMiB('ns/a', memoryOf, versionOf))).toEqual({ 'n1/gpu0': 100, 'n3/npu0': 100 });
    expect(Object.fromEntries(idx.committedMiB('ns/b', memoryOf, versionOf))).toEqual(fresh('ns/b'));
    // A moved replica, a deleted deployment and a changed variant size are all reflected.
    idx.set('ns/b', [p('ns/b', 'n2')]);
    expect(Object.fromEntries(idx.committedMiB('ns/a', memoryOf, versionOf))).toEqual({ 'n2/gpu0': 100 });
    mem.set('v-fp16', 250);
    version = 2;
    expect(Object.fromEntries(idx.committedMiB('ns/c', memoryOf, versionOf))).toEqual({ 'n1/gpu0': 250, 'n2/gpu0': 500 });
    expect(Object.fromEntries(idx.committedMiB('ns/c', memoryOf, versionOf))).toEqual(fresh('ns/c'));
    idx.delete('ns/a');
    expect(Object.fromEntries(idx.committedMiB('ns/c', memoryOf, versionOf))).toEqual({ 'n2/gpu0': 250 });
    expect(Object.fromEntries(idx.committedMiB('ns/b', memoryOf, versionOf))).toEqual({});
  });
});

describe('nodeWorkloads', () => {
  it('is the union of deployments on the node, one workload per deployment', () => {
    const w = nodeWorkloads('n1', [
      { key: 'ns/b', spec: spec('b'), placements: [p('ns/b', 'n1', 'npu0'), p('ns/b', 'n1', 'gpu0')] },
      { key: 'ns/a', spec: spec('a'), placements: [p('ns/a', 'n1'), p('ns/a', 'n2')] },
      { key: 'ns/c', spec: spec('c'), placements: [p('ns/c', 'n2')] },
    ]);
    expect(w.map((x) => `${x.key}@${x.accelerator}`)).toEqual(['ns/a@gpu0', 'ns/b@gpu0']);
    expect(w[0]).toMatchObject({ namespace: 'ns', deployment: 'a', model: 'a', latencySloMs: 50, variant: { name: 'v-fp16', memoryMiB: 300 } });
  });
});

describe('PlacementIndex workload counts', () => {
  it('counts each deployment once per node, and leaves out the one being planned', () => {
    const idx = new PlacementIndex();
    idx.set('ns/a', [p('ns/a', 'n1'), p('ns/a', 'n1', 'gpu1'), p('ns/a', 'n2')]);
    idx.set('ns/b', [p('ns/b', 'n1')]);
    expect(idx.workloadsOn('n1')).toBe(2);
    expect(idx.workloadsOn('n3')).toBe(0);
    // A node with none left is absent (absent: none).
    expect(Object.fromEntries(idx.otherWorkloads('ns/a'))).toEqual({ n1: 1 });
    expect(Object.fromEntries(idx.otherWorkloads('ns/c'))).toEqual({ n1: 2, n2: 1 });
  });

  it('an assignment never holds more workloads than the wire schema allows', () => {
    const many = Array.from({ length: MAX_WORKLOADS_PER_NODE + 3 }, (_, i) => {
      const key = `ns/d${String(i).padStart(3, '0')}`;
      return { key, spec: spec(key), placements: [p(key, 'n1')] };
    });
    const workloads = nodeWorkloads('n1', many);
    expect(workloads).toHaveLength(MAX_WORKLOADS_PER_NODE);
    expect(workloads.at(-1)?.key).toBe(`ns/d${String(MAX_WORKLOADS_PER_NODE - 1).padStart(3, '0')}`);
    expect(() => encode(Assignment, 'assignment', assignmentDocument('n1', workloads, 0))).not.toThrow();
  });
});
