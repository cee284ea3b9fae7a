import { API_VERSION, EMD_KIND, EN_KIND, FleetNode, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import { cookieToken, sessionCookie } from './plugin.ts';
import { dashEscalation, fleetNode, nodeSignature, precisionLookup, toFleetNode, unplacedExplanation } from './views.ts';

const deployment = (status: EdgeModelDeployment['status']): EdgeModelDeployment =>
  ({
    apiVersion: API_VERSION,
    kind: EMD_KIND,
    metadata: { name: 'det', namespace: 'ocr' },
    spec: {
      replicas: 6,
      model: { name: 'm', task: 't', variants: [{ name: 'det-int8', precision: 'int8' }, { name: 'det-fp16', precision: 'fp16' }] },
      slo: { latencyMs: 200 },
    },
    status,
  }) as unknown as EdgeModelDeployment;

const degraded = (message: string, unplaced = 2) =>
  deployment({ unplacedReplicas: unplaced, conditions: [{ type: 'Degraded', status: 'True', reason: 'Unschedulable', message, lastTransitionTime: '2026-01-01T00:00:00Z' }] });

const edgeNode: EdgeNode = {
  apiVersion: API_VERSION,
  kind: EN_KIND,
  metadata: { name: 'gw-1', labels: { 'topology.edgeplane.io/site': 'dock-1' } },
  spec: { unschedulable: false },
  status: { accelerators: [{ id: 'gpu0', type: 'GPU', model: 'Xavier', memoryMiB: 8000, precisions: ['fp16', 'int8'], tops: {} }] },
};

describe('unplacedExplanation', () => {
  it('takes the kube-scheduler style sentence out of the Degraded message', () => {
    expect(unplacedExplanation(degraded('2 replicas unplaced: 0/4 nodes are available: 4 at maxPerNode (1).'))).toBe('0/4 nodes are available: 4 at maxPerNode (1).');
    // Failures appended after a semicolon are not part of it.
    expect(unplacedExplanation(degraded('2 replicas unplaced: 0/4 nodes are available: 3 not Ready, 1 no int8.; det-int8 failed on gw-1'))).toBe('0/4 nodes are available: 3 not Ready, 1 no int8.');
  });

  it('is null when every replica is placed, and the whole message when it has another shape', () => {
    expect(unplacedExplanation(degraded('whatever', 0))).toBeNull();
    expect(unplacedExplanation(degraded('no node fits'))).toBe('no node fits');
  });
});

describe('fleetNode', () => {
  const t: NodeTelemetry = {
    seq: 3,
    lastSeenMs: 10_000,
    power: { source: 'battery', batteryPercent: 18, charging: false },
    network: { type: 'cellular-4g', metered: true, bandwidthMbps: 12 },
    workloads: [{ key: 'ocr/det', variant: 'det-int8', accelerator: 'gpu0', phase: 'Ready', p99Ms: 41 }],
  };

  it('joins the node with its telemetry and names each workload\'s tier', () => {
    const n = fleetNode(edgeNode, t, precisionLookup([deployment(undefined)]), 10_500, 1000, 7);
    expect(n).toMatchObject({ name: 'gw-1', site: 'dock-1', reachable: true, ready: true, rev: 7 });
    expect(n.accelerators).toEqual([{ id: 'gpu0', type: 'GPU', model: 'Xavier' }]);
    expect(n.power).toEqual({ source: 'battery', batteryPercent: 18, charging: false });
    expect(n.link).toEqual({ type: 'cellular-4g', metered: true, bandwidthMbps: 12, rttMs: null });
    expect(n.workloads).toEqual([{ deployment: 'ocr/det', variant: 'det-int8', precision: 'int8', accelerator: 'gpu0', phase: 'Ready', p99Ms: 41, rps: null }]);
  });

  it('is unreachable past the grace period, and a changed heartbeat time alone changes no signature', () => {
    const lookup = precisionLookup([]);
    expect(fleetNode(edgeNode, t, lookup, 12_000, 1000, 1).reachable).toBe(false);
    const a = fleetNode(edgeNode, t, lookup, 10_100, 1000, 1);
    const b = fleetNode(edgeNode, { ...t, lastSeenMs: 10_200 }, lookup, 10_300, 1000, 2);
    expect(nodeSignature(a)).toBe(nodeSignature(b));
    expect(a.workloads[0]?.precision).toBeNull();
  });
});

describe('dashEscalation', () => {
  const counters = { deployment: 'det-server', available: false, requests: 100, escalated: 10, ratio: 0.1, answersChanged: 2, failed: 3, budgetDenied: 1, uplinkBytes: 5000 };

  it('is null without status.escalation, and carries the False EscalationAvailable condition\'s reason', () => {
    expect(dashEscalation(deployment({}))).toBeNull();
    const down = deployment({
      escalation: counters,
      conditions: [{ type: 'EscalationAvailable', status: 'False', reason: 'NoReadyReplica', message: 'det-server has no Ready replica', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    } as EdgeModelDeployment['status']);
    expect(dashEscalation(down)).toEqual({ ...counters, unavailable: { reason: 'NoReadyReplica', message: 'det-server has no Ready replica' } });
    const up = deployment({
      escalation: { ...counters, available: true },
      conditions: [{ type: 'EscalationAvailable', status: 'True', reason: 'Ready', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    } as EdgeModelDeployment['status']);
    expect(dashEscalation(up)?.unavailable).toBeNull();
  });
});

describe('toFleetNode', () => {
  const t: NodeTelemetry = {
    seq: 3,
    lastSeenMs: 10_000,
    power: { source: 'battery', batteryPercent: 18, charging: false },
    network: { type: 'wifi', bandwidthMbps: 80 },
    workloads: [{ key: 'ocr/det', variant: 'det-int8', accelerator: 'gpu0', phase: 'Ready', p99Ms: 41, rps: 3 }],
  };
  const lookup = precisionLookup([deployment(undefined)]);

  it('is the contract\'s FleetNode: no heartbeat time, p99 or rate', () => {
    const n = toFleetNode(fleetNode(edgeNode, t, lookup, 10_500, 1000, 7));
    expect(FleetNode.strict().parse(n)).toEqual(n);
    expect(n).not.toHaveProperty('lastSeenMs');
    expect(n.workloads).toEqual([{ deployment: 'ocr/det', variant: 'det-int8', precision: 'int8', accelerator: 'gpu0', phase: 'Ready' }]);
  });

  it('is the same for equal signatures, so a node serialised once per change stays true', () => {
    const a = fleetNode(edgeNode, t, lookup, 10_100, 1000, 1);
    const b = fleetNode(edgeNode, { ...t, lastSeenMs: 10_400, workloads: [{ ...t.workloads![0]!, p99Ms: 42, rps: 9 }] }, lookup, 10_500, 1000, 1);
    expect(nodeSignature(a)).toBe(nodeSignature(b));
    expect(JSON.stringify(toFleetNode(a))).toBe(JSON.stringify(toFleetNode(b)));
  });
});

describe('the dashboard cookie', () => {
  it('round-trips a token among other cookies and ignores malformed values', () => {
    const set = sessionCookie('eyJh.b-c_d=', false);
    expect(set).toMatch(/HttpOnly; SameSite=Strict$/);
    const pair = set.split(';')[0]!;
    expect(cookieToken(`a=1; ${pair}; b=2`)).toBe('eyJh.b-c_d=');
    expect(cookieToken('a=1')).toBeNull();
    expect(cookieToken('ep_dashboard=%E0%A4%A')).toBeNull();
    expect(cookieToken(undefined)).toBeNull();
    expect(sessionCookie('x', true)).toMatch(/; Secure$/);
  });
});

describe('nodeSignature', () => {
  const base = (p99Ms: number | null, rps: number | null) =>
    ({ ...fleetNode(edgeNode, undefined, precisionLookup([]), 0, 1000, 1), workloads: [{ deployment: 'a/b', variant: 'v', precision: null, accelerator: 'gpu0', phase: 'Ready' as const, p99Ms, rps }] });

  it('ignores the rate and p99 wandering within a step, not a larger move', () => {
    expect(nodeSignature(base(40, 1))).toBe(nodeSignature(base(41, 7)));
    expect(nodeSignature(base(40, 1))).not.toBe(nodeSignature(base(60, 1)));
    expect(nodeSignature(base(null, 1))).not.toBe(nodeSignature(base(40, 1)));
  });
});
