import { describe, expect, it } from 'vitest';
import type { EdgeModelDeployment, PlacementStatus, WorkloadAssignment } from '@edgeplane/api';
import { makeSpec } from '../placement/fixtures.ts';
import { placementsFromAssignments } from './placement-rebuild.ts';

const emd = (name: string, placements: Partial<PlacementStatus>[] = [], deleting = false): EdgeModelDeployment =>
  ({
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeModelDeployment',
    metadata: { name, namespace: 'ns', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: makeSpec({ replicas: 3 }),
    status: { placements: placements.map((p) => ({ accelerator: 'gpu0', variant: 'm-fp16', precision: 'fp16', profile: 'full', phase: 'Ready', node: 'a', ...p })) },
  }) as unknown as EdgeModelDeployment;

const work = (key: string, variant = 'm-fp16', precision: 'fp32' | 'fp16' | 'int8' = 'fp16'): WorkloadAssignment => ({
  key,
  namespace: 'ns',
  deployment: key.split('/')[1]!,
  model: 'm',
  task: 't',
  variant: { name: variant, precision, profile: 'full', uri: 'nats-obj://ep-models/x', sha256: 'a'.repeat(64), sizeBytes: 1, memoryMiB: 1 },
  accelerator: 'gpu0',
  maxBatch: 1,
  maxQueueDelayMs: 0,
  latencySloMs: 50,
});

describe('placementsFromAssignments', () => {
  const rows: { name: string; kv: Record<string, WorkloadAssignment[]>; emds: EdgeModelDeployment[]; want: Record<string, string[]> }[] = [
    { name: 'one placement per node entry', kv: { a: [work('ns/d')], b: [work('ns/d')] }, emds: [emd('d')], want: { 'ns/d': ['a:m-fp16:fp16', 'b:m-fp16:fp16'] } },
    { name: 'only the deployments asked for', kv: { a: [work('ns/d'), work('ns/other')] }, emds: [emd('d')], want: { 'ns/d': ['a:m-fp16:fp16'] } },
    { name: 'a deployment being deleted is not restored', kv: { a: [work('ns/d')] }, emds: [emd('d', [], true)], want: {} },
    { name: 'a variant no longer in the spec is not restored', kv: { a: [work('ns/d', 'gone')] }, emds: [emd('d')], want: {} },
    { name: 'status says how many replicas a node holds', kv: { a: [work('ns/d')] }, emds: [emd('d', [{ node: 'a', accelerator: 'gpu0' }, { node: 'a', accelerator: 'gpu1' }])], want: { 'ns/d': ['a:m-fp16:fp16', 'a:m-fp16:fp16'] } },
    { name: 'the cap is the running precision', kv: { a: [work('ns/d', 'm-int8', 'int8')] }, emds: [emd('d')], want: { 'ns/d': ['a:m-int8:int8'] } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const out = placementsFromAssignments(new Map(Object.entries(row.kv)), new Map(row.emds.map((e) => [`ns/${e.metadata.name}`, e])));
      expect(Object.fromEntries([...out].map(([k, l]) => [k, l.map((p) => `${p.node}:${p.variant}:${p.cap}`)]))).toEqual(row.want);
    });
  }

  it('keeps the accelerator and latency status reported', () => {
    const out = placementsFromAssignments(new Map([['a', [work('ns/d')]]]), new Map([['ns/d', emd('d', [{ node: 'a', accelerator: 'npu0', p99LatencyMs: 7 }])]]));
    expect(out.get('ns/d')?.[0]).toMatchObject({ accelerator: 'npu0', predictedP99Ms: 7, precision: 'fp16', profile: 'full' });
  });
});
