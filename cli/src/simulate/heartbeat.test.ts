import { describe, expect, it } from 'vitest';
import { createDeltaBuilder, type Telemetry } from './heartbeat.ts';
import { pubFrameBytes } from './wire.ts';

const idle: Telemetry = {
  power: { source: 'battery', batteryPercent: 76.2, charging: false },
  network: { type: 'cellular-4g', metered: true, rttMs: 45.04, bandwidthMbps: 12.3 },
  load: [{ id: 'cpu0', util: 0, queue: 0 }],
  workloads: [],
  cachedArtifacts: [],
};

describe('delta heartbeats', () => {
  it('full first, then only what changed, full again every n-th', () => {
    const b = createDeltaBuilder(3);
    const drained = { ...idle, power: { ...idle.power, batteryPercent: 74.9 } };
    const beats = [b.next(idle), b.next(idle), b.next(drained), b.next(drained), b.next(drained)];
    expect(beats.map((h) => Object.keys(h).sort().join(','))).toEqual([
      'cachedArtifacts,full,load,network,power,seq,v,workloads',
      'seq,v',
      'power,seq,v',
      'cachedArtifacts,full,load,network,power,seq,v,workloads',
      'seq,v',
    ]);
    expect(JSON.stringify(beats[1])).toBe('{"v":1,"seq":1}');
  });

  const noise = [
    { name: 'battery within the same percent', b: { power: { source: 'battery', batteryPercent: 76.4, charging: false } }, sent: false },
    { name: 'battery one percent down', b: { power: { source: 'battery', batteryPercent: 75.4, charging: false } }, sent: true },
    { name: 'bandwidth about the same', b: { network: { ...idle.network, bandwidthMbps: 12.4 } }, sent: false },
    { name: 'link type switch', b: { network: { type: 'lora' } }, sent: true },
    { name: 'a workload phase', b: { workloads: [{ key: 'a/b', variant: 'int8', accelerator: 'cpu0', phase: 'Ready' }] }, sent: true },
  ] as const;
  for (const row of noise) {
    it(row.name, () => {
      const b = createDeltaBuilder(100);
      b.next(idle);
      expect(Object.keys(b.next({ ...idle, ...row.b } as Telemetry)).length > 2).toBe(row.sent);
    });
  }
});

describe('pubFrameBytes', () => {
  it('counts the PUB line, payload and both CRLFs', () => {
    const subject = 'ep.v1.node.sim-00001.status';
    const payload = '{"v":1,"seq":1}';
    const frame = `PUB ${subject} ${payload.length}\r\n${payload}\r\n`;
    expect(pubFrameBytes(subject, payload.length)).toBe(frame.length);
  });
});
