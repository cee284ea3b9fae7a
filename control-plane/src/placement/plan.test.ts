import { describe, expect, it } from 'vitest';
import { PlacementErrorCode, isPlacementInputError } from './errors.ts';
import { gpu, makeSpec, node, npu, variant } from './fixtures.ts';
import type { SpecInput } from './fixtures.ts';
import { unplacedMessage } from './message.ts';
import { planDeployment } from './plan.ts';
import type { NodeView, Placement, PlanInput } from './types.ts';

function input(spec: Partial<SpecInput>, nodes: NodeView[], extra: Partial<PlanInput> = {}): PlanInput {
  return { key: 'ns/d', spec: makeSpec(spec), nodes, current: [], committedMiB: new Map(), ...extra };
}

const busy = (name: string, utilization: number, fields: Partial<NodeView> = {}) =>
  node(name, { utilization: new Map([['gpu0', utilization]]), ...fields });
const site = (name: string, value: string, fields: Partial<NodeView> = {}) =>
  node(name, { labels: { 'topology.edgeplane.io/site': value }, ...fields });

/** A placement as the previous reconcile would have stored it. */
function on(nodeName: string, fields: Partial<Placement> = {}): Placement {
  return {
    deployment: 'ns/d',
    node: nodeName,
    accelerator: 'gpu0',
    variant: 'm-fp32',
    precision: 'fp32',
    profile: 'full',
    cap: 'fp32',
    predictedP99Ms: 1,
    tierReason: '',
    ...fields,
  };
}

const nodesOf = (r: { placements: Placement[] }) => r.placements.map((p) => p.node);

describe('scoring', () => {
  const rows: Array<{ name: string; spec?: Partial<SpecInput>; nodes: NodeView[]; extra?: Partial<PlanInput>; want: string[] }> = [
    { name: 'the idle accelerator wins', nodes: [busy('a', 0.9), busy('b', 0)], want: ['b'] },
    { name: 'SLO headroom and accuracy favour the GPU over an NPU', nodes: [node('a', { accelerators: [npu()] }), node('b')], want: ['b'] },
    { name: 'equal scores go to the lower name', nodes: [node('b'), node('a'), node('c')], want: ['a'] },
    { name: 'replicas spread over nodes by default', spec: { replicas: 2, placement: { maxPerNode: 2 } }, nodes: [node('a'), node('b')], want: ['a', 'b'] },
    {
      name: 'spreadBy prefers an empty site over a slightly better node',
      spec: { replicas: 2, placement: { spreadBy: 'topology.edgeplane.io/site' } },
      nodes: [site('x1', 'x'), site('x2', 'x'), site('y1', 'y', { utilization: new Map([['gpu0', 0.3]]) })],
      want: ['x1', 'y1'],
    },
    {
      name: 'spreadBy yields to a much better node',
      spec: { replicas: 2, placement: { spreadBy: 'topology.edgeplane.io/site' } },
      nodes: [site('x1', 'x'), site('x2', 'x'), site('y1', 'y', { utilization: new Map([['gpu0', 0.9]]) })],
      want: ['x1', 'x2'],
    },
    {
      name: 'without spreadBy the site label does not matter',
      spec: { replicas: 2 },
      nodes: [site('x1', 'x'), site('x2', 'x'), site('y1', 'y', { utilization: new Map([['gpu0', 0.3]]) })],
      want: ['x1', 'x2'],
    },
    {
      name: 'nodes lacking the spreadBy label share one domain',
      spec: { replicas: 3, placement: { spreadBy: 'topology.edgeplane.io/site' } },
      nodes: [node('a'), node('b'), site('x1', 'x', { utilization: new Map([['gpu0', 0.3]]) })],
      want: ['a', 'x1', 'b'],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(nodesOf(planDeployment(input(row.spec ?? {}, row.nodes, row.extra)))).toEqual(row.want);
    });
  }
});

describe('current placements', () => {
  // b is busier than a: 0.3 utilisation costs it 0.2 * 30 = 6 points of 100.
  const fleet = () => [busy('a', 0), busy('b', 0.3)];
  const rows: Array<{ name: string; nodes: NodeView[]; current: Placement[]; spec?: Partial<SpecInput>; keepThreshold?: number; want: string[] }> = [
    { name: 'a fresh plan takes the best node', nodes: fleet(), current: [], want: ['a'] },
    { name: 'a current placement stays when the gain is under keepThreshold', nodes: fleet(), current: [on('b')], want: ['b'] },
    { name: 'it moves when the gain passes keepThreshold', nodes: fleet(), current: [on('b')], keepThreshold: 5, want: ['a'] },
    { name: 'it moves when its node is no longer Ready', nodes: [busy('a', 0), busy('b', 0.3, { ready: false })], current: [on('b')], want: ['a'] },
    { name: 'it moves when its node is cordoned', nodes: [busy('a', 0), busy('b', 0.3, { unschedulable: true })], current: [on('b')], want: ['a'] },
    { name: 'it moves when its node is gone', nodes: fleet(), current: [on('z')], want: ['a'] },
    { name: "another deployment's placements are ignored", nodes: fleet(), current: [on('b', { deployment: 'ns/other' })], want: ['a'] },
    {
      name: 'scaling down drops the lowest-scoring replicas',
      nodes: [busy('a', 0), busy('b', 0.3), busy('c', 0.6)],
      current: [on('a'), on('b'), on('c')],
      spec: { replicas: 2 },
      want: ['a', 'b'],
    },
    {
      name: 'scaling up keeps the current ones and adds the best others',
      nodes: [busy('a', 0), busy('b', 0.3), busy('c', 0.4)],
      current: [on('c')],
      spec: { replicas: 2 },
      want: ['c', 'a'],
    },
    {
      name: 'two replicas on one node move apart when maxPerNode drops to 1',
      nodes: fleet(),
      current: [on('b'), on('b')],
      spec: { replicas: 2 },
      want: ['b', 'a'],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const extra: Partial<PlanInput> = { current: row.current };
      if (row.keepThreshold !== undefined) extra.options = { keepThreshold: row.keepThreshold };
      expect(nodesOf(planDeployment(input(row.spec ?? {}, row.nodes, extra)))).toEqual(row.want);
    });
  }

  it('re-tiers in place when the battery of a kept node drops', () => {
    const result = planDeployment(
      input({}, [busy('a', 0.3), busy('b', 0.3, { power: { source: 'battery', batteryPercent: 15 } })], { current: [on('b')] }),
    );
    expect(result.placements).toMatchObject([{ node: 'b', variant: 'm-int8', precision: 'int8', cap: 'int8' }]);
  });

  it('a node whose cap leaves nothing runnable moves the replica', () => {
    const fp32Only = { model: { name: 'm', task: 't', variants: [variant('f32')] } };
    const result = planDeployment(
      input(fp32Only, [busy('a', 0.3), node('b', { power: { source: 'battery', batteryPercent: 15 } })], { current: [on('b')] }),
    );
    expect(nodesOf(result)).toEqual(['a']);
  });
});

describe('unplaced replicas', () => {
  it('aggregates the reasons across nodes, most frequent first', () => {
    const fp32Only = { model: { name: 'm', task: 't', variants: [variant('f32', { memoryMiB: 500 })] } };
    const nodes: NodeView[] = [];
    const committed = new Map<string, number>();
    for (let i = 0; i < 25; i++) nodes.push(node(`npu-${i}`, { accelerators: [npu()] }));
    for (let i = 0; i < 10; i++) {
      nodes.push(node(`full-${i}`));
      committed.set(`full-${i}/gpu0`, 8000);
    }
    for (let i = 0; i < 5; i++) nodes.push(node(`down-${i}`, { ready: false }));
    const result = planDeployment(input(fp32Only, nodes, { committedMiB: committed }));
    expect(result.unplaced).toBe(1);
    expect(result.placements).toEqual([]);
    expect(result.message).toBe('0/40 nodes are available: 25 no accelerator supports fp32, 10 insufficient accelerator memory, 5 not Ready.');
  });

  it('reports an empty fleet', () => {
    const result = planDeployment(input({ replicas: 2 }, []));
    expect(result).toEqual({ placements: [], unplaced: 2, message: '0/0 nodes are available.' });
  });

  it('has no message when every replica is placed', () => {
    const result = planDeployment(input({ replicas: 0 }, [node('a')], { current: [on('a')] }));
    expect(result).toEqual({ placements: [], unplaced: 0 });
  });

  const rows: Array<{ name: string; total: number; reasons: string[]; want: string }> = [
    { name: 'counts and sorts by count', total: 4, reasons: ['b', 'a', 'b', 'b'], want: '0/4 nodes are available: 3 b, 1 a.' },
    { name: 'equal counts sort by reason', total: 4, reasons: ['not Ready', 'insufficient accelerator memory'], want: '0/4 nodes are available: 1 insufficient accelerator memory, 1 not Ready.' },
    { name: 'no reasons', total: 3, reasons: [], want: '0/3 nodes are available.' },
  ];
  for (const row of rows) {
    it(`message: ${row.name}`, () => {
      expect(unplacedMessage(row.total, row.reasons)).toBe(row.want);
    });
  }
});

describe('input errors', () => {
  const rows: Array<{ name: string; input: PlanInput; code: string }> = [
    { name: 'efficiency 0', input: input({}, [node('a')], { options: { efficiency: 0 } }), code: PlacementErrorCode.InvalidOptions },
    { name: 'negative deadline', input: input({}, [node('a')], { options: { fetchDeadlineSec: -1 } }), code: PlacementErrorCode.InvalidOptions },
    { name: 'keepThreshold over 100', input: input({}, [node('a')], { options: { keepThreshold: 101 } }), code: PlacementErrorCode.InvalidOptions },
    { name: 'NaN keepThreshold', input: input({}, [node('a')], { options: { keepThreshold: Number.NaN } }), code: PlacementErrorCode.InvalidOptions },
    { name: 'duplicate node names', input: input({}, [node('a'), node('a')]), code: PlacementErrorCode.DuplicateNode },
  ];
  for (const row of rows) {
    it(row.name, () => {
      let caught: unknown;
      try {
        planDeployment(row.input);
      } catch (err) {
        caught = err;
      }
      expect(isPlacementInputError(caught)).toBe(true);
      expect(caught).toMatchObject({ name: 'PlacementInputError', code: row.code });
    });
  }
});

describe('determinism', () => {
  it('does not depend on the order nodes arrive in', () => {
    const nodes = [busy('c', 0.1), node('a', { accelerators: [npu()] }), busy('b', 0.1), node('d'), gpuNode('e')];
    const spec = { replicas: 4 };
    const forward = planDeployment(input(spec, nodes));
    const backward = planDeployment(input(spec, [...nodes].reverse()));
    expect(backward).toEqual(forward);
    expect(forward.placements).toHaveLength(4);
  });
});

function gpuNode(name: string): NodeView {
  return node(name, { accelerators: [gpu({ id: 'gpu1', memoryMiB: 2048 })] });
}

describe('facts remembered across plans over one node list', () => {
  const plain = { model: { name: 'm', task: 't', variants: [variant('f32')] } };

  it('notices a node given a new accelerator array', () => {
    const view = node('a');
    const nodes = [view];
    expect(planDeployment(input(plain, nodes)).unplaced).toBe(0);
    view.accelerators = [npu()];
    expect(planDeployment(input(plain, nodes)).message).toBe('0/1 nodes are available: 1 no accelerator supports fp32.');
  });

  it('notices a node replaced in the list', () => {
    const nodes = [node('a'), node('b')];
    expect(nodesOf(planDeployment(input(plain, nodes)))).toEqual(['a']);
    nodes[0] = node('a', { accelerators: [npu()] });
    expect(nodesOf(planDeployment(input(plain, nodes)))).toEqual(['b']);
  });

  it('still refuses a duplicate name introduced after a first plan', () => {
    const nodes = [node('a'), node('b')];
    planDeployment(input(plain, nodes));
    nodes[1] = node('a');
    expect(() => planDeployment(input(plain, nodes))).toThrow(expect.objectContaining({ code: PlacementErrorCode.DuplicateNode }));
  });

  it('reads a replaced measured-latency map', () => {
    const view = node('a', { measuredP99Ms: new Map([[`${variant('f32').sha256}@gpu0`, 7]]) });
    expect(planDeployment(input(plain, [view])).placements[0]!.predictedP99Ms).toBe(7);
    view.measuredP99Ms = new Map([[`${variant('f32').sha256}@gpu0`, 9]]);
    expect(planDeployment(input(plain, [view])).placements[0]!.predictedP99Ms).toBe(9);
  });
});
