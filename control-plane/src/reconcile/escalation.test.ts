import { describe, expect, it } from 'vitest';
import { Escalation, type EdgeModelDeployment, type EscalationCounters, type WorkloadAssignment, type WorkloadReport } from '@edgeplane/api';
import { escalationCondition, escalationStatus, escalationTargetKey, reportsEscalation, sumEscalationCounters, tierStateOf, withEscalation } from './escalation.ts';
import { deploymentStatus } from './status.ts';
import { heartbeatFields, parseTelemetry } from '../fleet/telemetry.ts';

const counters = (over: Partial<EscalationCounters> = {}): EscalationCounters => ({ requests: 0, hard: 0, escalated: 0, answered: 0, changed: 0, failed: 0, budgetDenied: 0, bytesUp: 0, ...over });
const report = (key: string, escalation?: EscalationCounters): WorkloadReport => ({ key, variant: 'v', accelerator: 'cpu0', phase: 'Ready', ...(escalation ? { escalation } : {}) });
const workload = (key: string, escalation?: Escalation): WorkloadAssignment => {
  const [namespace, deployment] = key.split('/') as [string, string];
  return {
    key,
    namespace,
    deployment,
    model: 'm',
    task: 'text-recognition',
    variant: { name: 'v', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/v.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, memoryMiB: 1 },
    accelerator: 'cpu0',
    maxBatch: 1,
    maxQueueDelayMs: 0,
    latencySloMs: 50,
    ...(escalation ? { escalation } : {}),
  };
};
const spec = Escalation.parse({ deployment: 'big', rule: { confidenceBelow: 0.7 } });

describe('withEscalation', () => {
  it('copies each deployment escalation into its workloads only', () => {
    const out = withEscalation([workload('ns/ocr'), workload('ns/det')], (k) => (k === 'ns/ocr' ? spec : undefined));
    expect(out[0]?.escalation).toEqual(spec);
    expect(out[1]).not.toHaveProperty('escalation');
  });
  it('drops an escalation the spec no longer has, and leaves other workloads the same objects', () => {
    const plain = workload('ns/det');
    const out = withEscalation([workload('ns/ocr', spec), plain], () => undefined);
    expect(out[0]).not.toHaveProperty('escalation');
    expect(out[1]).toBe(plain);
  });
});

describe('escalation tier', () => {
  const emd = (status?: EdgeModelDeployment['status'], deleting = false) =>
    ({ metadata: { name: 'big', namespace: 'ns', ...(deleting ? { deletionTimestamp: '2030-01-01T00:00:00Z' } : {}) }, status }) as EdgeModelDeployment;
  it.each([
    { name: 'absent', tier: undefined, want: 'not-found' },
    { name: 'being deleted', tier: emd({ readyReplicas: 2 }, true), want: 'not-found' },
    { name: 'no status yet', tier: emd(undefined), want: 'not-ready' },
    { name: 'no Ready replica', tier: emd({ readyReplicas: 0 }), want: 'not-ready' },
    { name: 'one Ready replica', tier: emd({ readyReplicas: 1 }), want: 'ready' },
  ])('$name: $want', ({ tier, want }) => {
    expect(tierStateOf(tier)).toBe(want);
  });

  it.each([
    { state: 'ready', status: 'True', reason: 'TierReady' },
    { state: 'not-ready', status: 'False', reason: 'TierNotReady' },
    { state: 'not-found', status: 'False', reason: 'TierNotFound' },
  ] as const)('condition when $state: $status $reason, naming the tier', ({ state, status, reason }) => {
    const c = escalationCondition('big', state);
    expect(c).toMatchObject({ type: 'EscalationAvailable', status, reason });
    expect(c.message).toContain('big');
  });

  it('names the target in the deployment namespace', () => {
    expect(escalationTargetKey({ metadata: { name: 'ocr', namespace: 'ns' }, spec: { escalation: spec } } as EdgeModelDeployment)).toBe('ns/big');
    expect(escalationTargetKey({ metadata: { name: 'ocr', namespace: 'ns' }, spec: {} } as EdgeModelDeployment)).toBeUndefined();
  });
});

describe('summing counters', () => {
  it('adds the latest counters of this deployment over nodes, ignoring other deployments and nodes without counters', () => {
    const sum = sumEscalationCounters('ns/ocr', [
      [report('ns/ocr', counters({ requests: 100, hard: 30, escalated: 20, answered: 18, changed: 5, failed: 2, budgetDenied: 10, bytesUp: 4000 })), report('ns/det', counters({ requests: 999 }))],
      [report('ns/ocr', counters({ requests: 50, hard: 5, escalated: 5, answered: 5, changed: 1, bytesUp: 1000 }))],
      [report('ns/ocr')],
      undefined,
      [],
    ]);
    expect(sum).toEqual(counters({ requests: 150, hard: 35, escalated: 25, answered: 23, changed: 6, failed: 2, budgetDenied: 10, bytesUp: 5000 }));
  });
  it('is zero with no reports', () => {
    expect(sumEscalationCounters('ns/ocr', [])).toEqual(counters());
  });
  it('tells whether any node reports counters for the deployment', () => {
    expect(reportsEscalation('ns/ocr', [{ workloads: [report('ns/ocr')] }, {}, { workloads: [report('ns/det', counters())] }])).toBe(false);
    expect(reportsEscalation('ns/ocr', [{}, { workloads: [report('ns/ocr', counters())] }])).toBe(true);
  });
});

describe('counters in stored telemetry', () => {
  it('survive a heartbeat written to the node hash and read back, so status can sum them', () => {
    const c = counters({ requests: 7, hard: 2, escalated: 1, answered: 1, changed: 1, bytesUp: 1000 });
    const fields = heartbeatFields({ v: 1, seq: 3, workloads: [report('ns/ocr', c), report('ns/det')] }, 1_000);
    const t = parseTelemetry({ ...fields });
    expect(t?.workloads?.find((w) => w.key === 'ns/ocr')?.escalation).toEqual(c);
    expect(sumEscalationCounters('ns/ocr', [t?.workloads])).toEqual(c);
  });
});

describe('escalationStatus', () => {
  it('carries the sums, the ratio and the uplink bytes', () => {
    expect(escalationStatus('big', true, counters({ requests: 150, escalated: 25, changed: 6, failed: 2, budgetDenied: 10, bytesUp: 5000 }))).toEqual({
      deployment: 'big',
      available: true,
      requests: 150,
      escalated: 25,
      ratio: 0.1667,
      answersChanged: 6,
      failed: 2,
      budgetDenied: 10,
      uplinkBytes: 5000,
    });
  });
  it('has no ratio before the first request, and never more than 1', () => {
    expect(escalationStatus('big', false, counters())).not.toHaveProperty('ratio');
    expect(escalationStatus('big', true, counters({ requests: 1, escalated: 2 })).ratio).toBe(1);
  });
});

describe('deploymentStatus with escalation', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const base = { generation: 1, replicas: 0, placements: [], unplaced: 0, now };
  it('sets status.escalation and the condition, and drops both once the spec has no escalation', () => {
    const s = deploymentStatus({ ...base, prev: undefined, escalation: { status: escalationStatus('big', false, counters()), condition: escalationCondition('big', 'not-found') } });
    expect(s.escalation).toMatchObject({ deployment: 'big', available: false });
    expect(s.conditions?.find((c) => c.type === 'EscalationAvailable')).toMatchObject({ status: 'False', reason: 'TierNotFound' });
    const without = deploymentStatus({ ...base, prev: s });
    expect(without.escalation).toBeUndefined();
    expect(without.conditions?.map((c) => c.type)).not.toContain('EscalationAvailable');
  });
});
