import { describe, expect, it } from 'vitest';
import type { EdgeModelDeployment, EdgeNode } from '@edgeplane/api';
import { age, table } from './format.ts';
import { main, parseDeploymentRef } from './main.ts';
import { nodeStatus, topNodes } from './nodes.ts';
import { planInputFrom } from './why.ts';

const node = (name: string, fields: Partial<EdgeNode> = {}): EdgeNode => ({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeNode',
  metadata: { name },
  spec: { unschedulable: false },
  ...fields,
});

describe('format', () => {
  it('aligns columns three spaces apart and prints <none> for a missing cell', () => {
    expect(table(['name', 'status'], [['a', 'Ready'], ['longer-name', undefined]])).toBe('NAME          STATUS\na             Ready\nlonger-name   <none>\n');
  });
  it('ages as kubectl does', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(age('2029-12-31T23:59:15Z', now)).toBe('45s');
    expect(age('2029-12-31T23:00:00Z', now)).toBe('60m');
    expect(age('2029-12-31T00:00:00Z', now)).toBe('24h');
    expect(age('2029-12-20T00:00:00Z', now)).toBe('12d');
  });
});

describe('nodes', () => {
  const cond = (status: 'True' | 'False') => [{ type: 'Ready', status, reason: 'R', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }];
  it('node status as kubectl get nodes says it', () => {
    expect(nodeStatus(node('a', { status: { conditions: cond('True') } }))).toBe('Ready');
    expect(nodeStatus(node('a', { spec: { unschedulable: true }, status: { conditions: cond('False') } }))).toBe('NotReady,SchedulingDisabled');
    expect(nodeStatus(node('a'))).toBe('Unknown');
  });
  it('top sums the rate and takes the worst p99 and busiest accelerator', () => {
    const [top] = topNodes([
      node('a', {
        status: {
          utilization: [{ id: 'gpu0', utilization: 0.7, queue: 2 }, { id: 'cpu0', utilization: 0.1, queue: 0 }],
          workloads: [
            { deployment: 'n/x', variant: 'v', accelerator: 'gpu0', phase: 'Ready', rps: 10.04, p99Ms: 12 },
            { deployment: 'n/y', variant: 'v', accelerator: 'cpu0', phase: 'Ready', rps: 2, p99Ms: 30 },
          ],
        },
      }),
    ]);
    expect(top).toMatchObject({ maxUtilization: 0.7, rps: 12, p99Ms: 30, workloads: 2 });
  });
});

describe('why', () => {
  const variant = { name: 'v', precision: 'int8' as const, profile: 'full' as const, uri: 'file:///m', sha256: 'a'.repeat(64), sizeBytes: 1, accuracy: 0.9, gflops: 1, memoryMiB: 300 };
  const emd = (name: string, placements: Array<{ node: string; accelerator: string }>): EdgeModelDeployment => ({
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeModelDeployment',
    metadata: { name, namespace: 'ns' },
    spec: {
      model: { name: 'm', task: 't', variants: [variant] },
      replicas: 1,
      placement: { maxPerNode: 1 },
      slo: { latencyMs: 50, minAccuracy: 0 },
      tiering: { objective: 'accuracy', battery: { fp16BelowPercent: 50, int8BelowPercent: 20, hysteresisPercent: 5 }, network: { liteOn: [] } },
      rollout: { maxUnavailable: 1, maxSurge: 1 },
      batching: { maxBatch: 1, maxQueueDelayMs: 0 },
    },
    status: { placements: placements.map((p) => ({ ...p, variant: 'v', precision: 'int8', profile: 'full', phase: 'Ready' })) },
  });
  it("counts other deployments' memory and workloads per node, not the target's own", () => {
    const target = emd('t', [{ node: 'a', accelerator: 'cpu0' }]);
    const input = planInputFrom(target, [node('a'), node('b')], [target, emd('o1', [{ node: 'a', accelerator: 'cpu0' }]), emd('o2', [{ node: 'a', accelerator: 'cpu0' }])], 0);
    expect(input.key).toBe('ns/t');
    expect(input.committedMiB.get('a/cpu0')).toBe(600);
    expect(input.otherWorkloads?.get('a')).toBe(2);
    expect(input.current.map((p) => p.node)).toEqual(['a']);
    expect(input.nodes.map((n) => n.ready)).toEqual([false, false]);
  });
});

describe('why wording', () => {
  const cpu = { id: 'cpu0', type: 'CPU' as const, memoryMiB: 4096, precisions: ['fp32' as const, 'int8' as const], tops: { fp32: 0.5, int8: 2 } };
  const ready = [{ type: 'Ready', status: 'True' as const, reason: 'R', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }];
  const twin = (name: string) => node(name, { status: { accelerators: [cpu], conditions: ready, network: { type: 'ethernet', bandwidthMbps: 100 } } });
  const variant = { name: 'v', precision: 'int8' as const, profile: 'full' as const, uri: 'file:///m', sha256: 'a'.repeat(64), sizeBytes: 1, accuracy: 0.9, gflops: 1, memoryMiB: 100 };
  const target: EdgeModelDeployment = {
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeModelDeployment',
    metadata: { name: 'd', namespace: 'ns' },
    spec: {
      model: { name: 'm', task: 't', variants: [variant] },
      replicas: 1,
      placement: { maxPerNode: 1 },
      slo: { latencyMs: 50, minAccuracy: 0 },
      tiering: { objective: 'accuracy', battery: { fp16BelowPercent: 50, int8BelowPercent: 20, hysteresisPercent: 5 }, network: { liteOn: [] } },
      rollout: { maxUnavailable: 1, maxSurge: 1 },
      batching: { maxBatch: 1, maxQueueDelayMs: 0 },
    },
    status: { placements: [{ node: 'a', accelerator: 'cpu0', variant: 'v', precision: 'int8', profile: 'full', phase: 'Ready' }] },
  };
  it('an identical node lost a tie, broken by name', async () => {
    const { why } = await import('./why.ts');
    const report = why(target, [twin('a'), twin('b')], [target], 0);
    expect(report.otherNodes).toEqual([expect.objectContaining({ node: 'b', verdict: 'ScoredLower', reason: expect.stringMatching(/= [\d.]+, the lowest of the chosen nodes; a tie goes to the lower node name/) })]);
  });
});

describe('arguments', () => {
  it('takes emd/NAME, NAME and NAMESPACE/NAME', () => {
    expect(parseDeploymentRef('emd/x', 'dflt')).toEqual({ namespace: 'dflt', name: 'x' });
    expect(parseDeploymentRef('edgemodeldeployment.edgeplane.io/x', 'dflt')).toEqual({ namespace: 'dflt', name: 'x' });
    expect(parseDeploymentRef('x', 'dflt')).toEqual({ namespace: 'dflt', name: 'x' });
    expect(parseDeploymentRef('emd/ns/x', 'dflt')).toEqual({ namespace: 'ns', name: 'x' });
    expect(() => parseDeploymentRef('emd/', 'dflt')).toThrow(/expected emd\/NAME/);
  });
  it('help exits 0, no command and bad flags exit 2, without touching the cluster', async () => {
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
    const never = () => {
      throw new Error('no cluster in a unit test');
    };
    expect(await main(['--help'], io, never)).toBe(0);
    expect(out.join('')).toMatch(/why emd\/NAME/);
    expect(await main([], io, never)).toBe(2);
    expect(await main(['get', 'nodes', '--bogus'], io, never)).toBe(2);
    expect(await main(['get', 'nodes', '-o', 'csv'], io, never)).toBe(2);
  });
});
