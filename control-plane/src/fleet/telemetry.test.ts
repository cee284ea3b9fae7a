import { describe, expect, it } from 'vitest';
import type { Heartbeat } from '@edgeplane/api';
import { digestOf, heartbeatChanges, heartbeatFields, isFresh, mergeHeartbeat, parseTelemetry, type NodeTelemetry } from './telemetry.ts';

const hb = (h: Partial<Heartbeat>): Heartbeat => ({ v: 1, seq: 1, ...h });
const ready = { key: 'ns/a', variant: 'fp16', accelerator: 'gpu0', phase: 'Ready' as const };

describe('heartbeat delta merge', () => {
  const base: NodeTelemetry = {
    seq: 4,
    lastSeenMs: 100,
    power: { source: 'battery', batteryPercent: 60 },
    network: { type: 'wifi' },
    workloads: [ready],
    load: [{ id: 'gpu0', util: 0.5, queue: 1 }],
    cachedArtifacts: ['a'.repeat(64)],
  };
  const rows: { name: string; hb: Heartbeat; want: Partial<NodeTelemetry> }[] = [
    { name: 'idle keeps every section', hb: hb({ seq: 5 }), want: { seq: 5, lastSeenMs: 200, power: base.power, workloads: [ready], load: base.load } },
    { name: 'power replaces power only', hb: hb({ seq: 6, power: { source: 'battery', batteryPercent: 18 } }), want: { power: { source: 'battery', batteryPercent: 18 }, network: { type: 'wifi' } } },
    { name: 'network section', hb: hb({ network: { type: 'cellular-4g', bandwidthMbps: 5 } }), want: { network: { type: 'cellular-4g', bandwidthMbps: 5 }, power: base.power } },
    { name: 'empty workloads clears', hb: hb({ workloads: [] }), want: { workloads: [] } },
    { name: 'full without lists clears them', hb: hb({ full: true, power: base.power, network: base.network }), want: { workloads: [], load: [], cachedArtifacts: [] } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const merged = mergeHeartbeat(base, row.hb, 200);
      expect(merged).toMatchObject(row.want);
      // Redis sees the same: write the fields over the stored hash and read it back.
      const stored: Record<string, string> = { ...heartbeatFields(hb({ full: true, ...base }), 100), ...heartbeatFields(row.hb, 200) };
      expect(parseTelemetry(stored)).toMatchObject({ ...merged, bootId: undefined });
    });
  }

  it('reads an unknown node as null and a corrupt field as absent', () => {
    expect(parseTelemetry({})).toBeNull();
    expect(parseTelemetry({ lastSeenMs: '5', power: '{bad' })).toMatchObject({ lastSeenMs: 5, power: undefined });
    expect(parseTelemetry({ lastSeenMs: '5', power: '{"source":"nuclear"}' })?.power).toBeUndefined();
  });

  it('freshness is three intervals', () => {
    expect(isFresh({ lastSeenMs: 1000 }, 1600, 200)).toBe(true);
    expect(isFresh({ lastSeenMs: 1000 }, 1601, 200)).toBe(false);
    expect(isFresh(null, 0, 200)).toBe(false);
  });
});

describe('heartbeatChanges', () => {
  const prev = digestOf({ power: { source: 'battery', batteryPercent: 60 }, network: { type: 'wifi' }, workloads: [ready] });
  const rows: { name: string; prev?: typeof prev; hb: Heartbeat; changed: boolean }[] = [
    { name: 'idle', prev, hb: hb({}), changed: false },
    { name: 'load only', prev, hb: hb({ load: [{ id: 'gpu0', util: 1, queue: 3 }] }), changed: false },
    { name: 'battery moved', prev, hb: hb({ power: { source: 'battery', batteryPercent: 59 } }), changed: true },
    { name: 'full heartbeat, nothing new', prev, hb: hb({ full: true, power: { source: 'battery', batteryPercent: 60 }, network: { type: 'wifi' }, workloads: [ready] }), changed: false },
    { name: 'workload phase', prev, hb: hb({ workloads: [{ ...ready, phase: 'Failed' }] }), changed: true },
    { name: 'workload latency only', prev, hb: hb({ workloads: [{ ...ready, p99Ms: 3 }] }), changed: false },
    { name: 'first sight of the node', hb: hb({ network: { type: 'wifi' } }), changed: true },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(heartbeatChanges(row.prev, row.hb) !== null).toBe(row.changed);
    });
  }
});
