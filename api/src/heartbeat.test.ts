import { describe, expect, it } from 'vitest';
import { createHeartbeatBuilder, type Telemetry } from './heartbeat.ts';

const idle: Telemetry = {
  power: { source: 'battery', batteryPercent: 76.2, charging: false },
  network: { type: 'cellular-4g', metered: true, rttMs: 42.04, bandwidthMbps: 11.3 },
  load: [{ id: 'cpu0', util: 0, queue: 0 }],
  workloads: [],
  cachedArtifacts: [],
};

describe('heartbeat builder', () => {
  it('full first, then only what changed, full again every n-th', () => {
    const b = createHeartbeatBuilder(3);
    const beats = [
      b.next(idle),
      b.next(idle),
      b.next({ ...idle, power: { ...idle.power, batteryPercent: 75 } }),
      b.next({ ...idle, power: { ...idle.power, batteryPercent: 75 } }),
      b.next({ ...idle, power: { ...idle.power, batteryPercent: 75 } }),
    ];
    expect(beats.map((h) => Object.keys(h).sort().join(','))).toEqual([
      'cachedArtifacts,full,load,network,power,seq,v,workloads',
      'seq,v',
      'power,seq,v',
      'cachedArtifacts,full,load,network,power,seq,v,workloads',
      'seq,v',
    ]);
    expect(beats.map((h) => h.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(JSON.stringify(beats[1])).toBe('{"v":1,"seq":1}');
  });

  const noise = [
    { name: 'utilisation jitter within a 5 % step', a: { load: [{ id: 'cpu0', util: 0.01, queue: 0 }] }, b: { load: [{ id: 'cpu0', util: 0.02, queue: 0 }] }, sent: false },
    { name: 'utilisation crossing a step', a: { load: [{ id: 'cpu0', util: 0.01, queue: 0 }] }, b: { load: [{ id: 'cpu0', util: 0.5, queue: 0 }] }, sent: true },
    { name: 'battery fraction of a percent', a: { power: { source: 'battery', batteryPercent: 50.1 } }, b: { power: { source: 'battery', batteryPercent: 50.3 } }, sent: false },
    { name: 'bandwidth re-measured about the same', a: { network: { type: 'wifi', bandwidthMbps: 101 } }, b: { network: { type: 'wifi', bandwidthMbps: 104 } }, sent: false },
    { name: 'link type switch', a: { network: { type: 'wifi' } }, b: { network: { type: 'cellular-4g' } }, sent: true },
    { name: 'artifact order', a: { cachedArtifacts: ['b'.repeat(64), 'a'.repeat(64)] }, b: { cachedArtifacts: ['a'.repeat(64), 'b'.repeat(64)] }, sent: false },
  ] as const;
  for (const row of noise) {
    it(row.name, () => {
      const b = createHeartbeatBuilder(100);
      b.next({ ...idle, ...row.a } as Telemetry);
      const hb = b.next({ ...idle, ...row.b } as Telemetry);
      expect(Object.keys(hb).length > 2).toBe(row.sent);
    });
  }

  it('reset makes the next one full and takes a new period', () => {
    const b = createHeartbeatBuilder(100);
    b.next(idle);
    b.reset(2);
    expect(b.next(idle).full).toBe(true);
    expect(b.next(idle).full).toBeUndefined();
    expect(b.next(idle).full).toBe(true);
  });
});
