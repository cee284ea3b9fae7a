import { describe, expect, it } from 'vitest';
import type { Accelerator, EdgeNodeStatus } from '@edgeplane/api';
import { acceleratorSummary, batteryClass, buildNodeStatus, isMeaningfulChange, NODE_STATUS_REFRESH_MS, NODE_STATUS_REFRESHES_PER_SEC, nodeStatusRefreshMs, powerSummary, setCondition, shouldWriteNodeStatus } from './node-status.ts';

const gpu: Accelerator = { id: 'gpu0', type: 'GPU', memoryMiB: 8192, precisions: ['fp32', 'fp16', 'int8'], tops: { fp16: 20 } };
const cpu: Accelerator = { id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32'], tops: { fp32: 1 } };
const now = new Date('2030-01-01T00:00:00Z');
const capability = { agentVersion: '1.0.0', host: { arch: 'arm64' }, accelerators: [gpu, cpu] };

describe('summaries', () => {
  it('acceleratorSummary lists each type once in order', () => {
    expect(acceleratorSummary([gpu, cpu, { ...cpu, id: 'cpu1' }])).toBe('GPU,CPU');
    expect(acceleratorSummary(undefined)).toBe('');
  });
  const power = [
    { in: { source: 'mains' as const }, summary: 'mains', cls: 'mains' },
    { in: { source: 'battery' as const, batteryPercent: 63.4 }, summary: 'battery 63%', cls: 'battery:>=50' },
    { in: { source: 'battery' as const, batteryPercent: 49 }, summary: 'battery 49%', cls: 'battery:<50' },
    { in: { source: 'battery' as const, batteryPercent: 19.9, charging: true }, summary: 'battery 20% charging', cls: 'battery+charging:<20' },
  ];
  for (const row of power) {
    it(`power ${row.summary}`, () => {
      expect(powerSummary(row.in)).toBe(row.summary);
      expect(batteryClass(row.in)).toBe(row.cls);
    });
  }
});

describe('conditions', () => {
  it('keeps lastTransitionTime while the status holds', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'A' }, now);
    const later = setCondition(first, { type: 'Ready', status: 'True', reason: 'B' }, new Date('2030-01-02T00:00:00Z'));
    expect(later[0]?.lastTransitionTime).toBe('2030-01-01T00:00:00Z');
    expect(later[0]?.reason).toBe('B');
    const flipped = setCondition(later, { type: 'Ready', status: 'False', reason: 'C' }, new Date('2030-01-03T00:00:00Z'));
    expect(flipped[0]?.lastTransitionTime).toBe('2030-01-03T00:00:00Z');
    expect(flipped).toHaveLength(1);
  });
});

describe('buildNodeStatus', () => {
  it('reports Ready and Reachable with summaries', () => {
    const s = buildNodeStatus(undefined, {
      capability,
      telemetry: { seq: 1, lastSeenMs: now.getTime(), power: { source: 'battery', batteryPercent: 70 }, network: { type: 'wifi' } },
      reachable: true,
      now,
    });
    expect(s).toMatchObject({ acceleratorSummary: 'GPU,CPU', powerSummary: 'battery 70%', network: { type: 'wifi' }, lastHeartbeatTime: '2030-01-01T00:00:00Z' });
    expect(s.conditions?.map((c) => `${c.type}=${c.status}`).sort()).toEqual(['Reachable=True', 'Ready=True']);
  });

  it('carries accelerator load and each workload\'s rate and p99 for kubectl edgeplane top', () => {
    const s = buildNodeStatus(undefined, {
      capability,
      telemetry: {
        seq: 3,
        lastSeenMs: now.getTime(),
        load: [{ id: 'gpu0', util: 0.4267, queue: 2 }],
        workloads: [
          { key: 'ns/b', variant: 'v-int8', accelerator: 'gpu0', phase: 'Ready', rps: 12.5, p99Ms: 8.1, p50Ms: 4 },
          { key: 'ns/a', variant: 'v-fp16', accelerator: 'gpu0', phase: 'Loading' },
        ],
      },
      reachable: true,
      now,
    });
    expect(s.utilization).toEqual([{ id: 'gpu0', utilization: 0.43, queue: 2 }]);
    expect(s.workloads).toEqual([
      { deployment: 'ns/a', variant: 'v-fp16', accelerator: 'gpu0', phase: 'Loading' },
      { deployment: 'ns/b', variant: 'v-int8', accelerator: 'gpu0', phase: 'Ready', rps: 12.5, p99Ms: 8.1 },
    ]);
    // A heartbeat without those sections (a delta) keeps what the last one said.
    expect(buildNodeStatus(s, { telemetry: { seq: 4, lastSeenMs: now.getTime() }, reachable: true, now }).workloads).toEqual(s.workloads);
  });

  it('an unreachable node is not Ready and keeps its capability', () => {
    const prev = buildNodeStatus(undefined, { capability, reachable: true, now });
    const s = buildNodeStatus(prev, { reachable: false, now });
    expect(s.accelerators).toHaveLength(2);
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NodeUnreachable' });
  });
});

describe('when to write', () => {
  const base = buildNodeStatus(undefined, {
    capability,
    telemetry: { seq: 1, lastSeenMs: now.getTime(), power: { source: 'battery', batteryPercent: 70 }, network: { type: 'wifi' } },
    reachable: true,
    now,
  });
  const withPower = (p: number, t = now.getTime()): EdgeNodeStatus =>
    buildNodeStatus(base, { telemetry: { seq: 2, lastSeenMs: t, power: { source: 'battery', batteryPercent: p }, network: { type: 'wifi' } }, reachable: true, now });
  const rows: { name: string; next: EdgeNodeStatus; lastWrite: number; write: boolean }[] = [
    { name: 'battery drift within a class, written recently', next: withPower(66), lastWrite: now.getTime() - 1000, write: false },
    { name: 'battery drift, a minute since the last write', next: withPower(66), lastWrite: now.getTime() - 60_000, write: true },
    { name: 'battery crosses 50%', next: withPower(48), lastWrite: now.getTime() - 1000, write: true },
    { name: 'link type changes', next: buildNodeStatus(base, { telemetry: { seq: 2, lastSeenMs: now.getTime(), network: { type: 'cellular-4g' } }, reachable: true, now }), lastWrite: now.getTime(), write: true },
    { name: 'node unreachable', next: buildNodeStatus(base, { reachable: false, now }), lastWrite: now.getTime(), write: true },
    { name: 'nothing new, long ago', next: base, lastWrite: now.getTime() - 120_000, write: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(shouldWriteNodeStatus(base, row.next, row.lastWrite, now.getTime())).toBe(row.write);
    });
  }
  it('a first status is always meaningful', () => {
    expect(isMeaningfulChange(undefined, base)).toBe(true);
  });
  it('drift waits for the refresh period it is given; a crossing does not', () => {
    const fourMinutes = 240_000;
    expect(shouldWriteNodeStatus(base, withPower(66), now.getTime() - 60_000, now.getTime(), fourMinutes)).toBe(false);
    expect(shouldWriteNodeStatus(base, withPower(66), now.getTime() - fourMinutes, now.getTime(), fourMinutes)).toBe(true);
    expect(shouldWriteNodeStatus(base, withPower(48), now.getTime() - 1000, now.getTime(), fourMinutes)).toBe(true);
  });
});

describe('nodeStatusRefreshMs', () => {
  it('is a minute for a small fleet and keeps a large fleet\'s refreshes within the write budget', () => {
    expect(nodeStatusRefreshMs(0)).toBe(NODE_STATUS_REFRESH_MS);
    expect(nodeStatusRefreshMs(100)).toBe(NODE_STATUS_REFRESH_MS);
    for (const nodes of [1000, 5000, 20_000]) {
      const refresh = nodeStatusRefreshMs(nodes);
      expect(refresh).toBeGreaterThan(NODE_STATUS_REFRESH_MS);
      expect((nodes * 1000) / refresh).toBeLessThanOrEqual(NODE_STATUS_REFRESHES_PER_SEC);
    }
  });
});
