import { describe, expect, it } from 'vitest';
import { explainPlacement } from './explain.ts';
import { cpu, makeSpec, node, npu } from './fixtures.ts';

describe('explainPlacement', () => {
  const nodes = [
    node('a-gpu'),
    node('b-cordoned', { unschedulable: true }),
    node('c-down', { ready: false }),
    node('d-other', { labels: { role: 'other' } }),
    node('e-cpu', { accelerators: [cpu()] }),
    node('f-npu', { accelerators: [npu()], labels: { role: 'cam' } }),
  ];
  const spec = makeSpec({ replicas: 1, placement: { selector: { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['other'] }] } } });
  const { result, nodes: verdicts } = explainPlacement({ key: 'ns/d', spec, nodes, current: [], committedMiB: new Map() });
  const byName = new Map(verdicts.map((v) => [v.node, v]));

  it('names the node that holds the replica, with its tier', () => {
    expect(result.placements.map((p) => p.node)).toEqual(['a-gpu']);
    expect(byName.get('a-gpu')!.placed.map((p) => p.accelerator)).toEqual(['gpu0']);
  });

  it("gives each refused node the first filter's reason, as the unplaced message would", () => {
    expect(byName.get('b-cordoned')!.filtered).toEqual({ plugin: 'NodeUnschedulable', reason: 'unschedulable' });
    expect(byName.get('c-down')!.filtered).toEqual({ plugin: 'NodeReady', reason: 'not Ready' });
    expect(byName.get('d-other')!.filtered).toEqual({ plugin: 'NodeSelector', reason: "didn't match the node selector" });
  });

  it('scores every feasible node with each plugin, and the chosen one scores highest', () => {
    const scored = verdicts.filter((v) => v.score !== undefined);
    expect(scored.map((v) => v.node).sort()).toEqual(['a-gpu', 'e-cpu', 'f-npu']);
    const best = scored.reduce((a, b) => (b.score!.total > a.score!.total ? b : a));
    expect(best.node).toBe('a-gpu');
    for (const v of scored) {
      expect(v.score!.plugins.map((p) => p.plugin)).toEqual(['SloHeadroom', 'Accuracy', 'Load', 'Energy', 'TopologySpread']);
      expect(v.score!.total).toBeCloseTo(v.score!.plugins.reduce((s, p) => s + p.score * p.weight, 0), 9);
    }
  });
});
