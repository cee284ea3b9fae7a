import { describe, expect, it } from 'vitest';
import { createHeartbeatBuilder, encodeHeartbeat, type Telemetry } from './heartbeat.ts';
import { decode } from './codec.ts';
import { Heartbeat } from './messages.ts';

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

describe('heartbeat on the wire', () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);

  it('sends an idle delta as its bare seq and reads it back as the object', () => {
    const wire = encodeHeartbeat({ v: 1, seq: 1234 });
    expect(text(wire)).toBe('1234');
    expect(decode(Heartbeat, 'heartbeat', wire)).toEqual({ ok: true, value: { v: 1, seq: 1234 } });
  });

  it('keeps the object for a full heartbeat or any section, and still reads the long idle form', () => {
    expect(JSON.parse(text(encodeHeartbeat({ v: 1, seq: 0, full: true })))).toEqual({ v: 1, seq: 0, full: true });
    expect(JSON.parse(text(encodeHeartbeat({ v: 1, seq: 3, power: { source: 'mains' } })))).toEqual({ v: 1, seq: 3, power: { source: 'mains' } });
    expect(decode(Heartbeat, 'heartbeat', '{"v":1,"seq":5}')).toEqual({ ok: true, value: { v: 1, seq: 5 } });
  });

  it('refuses a negative or fractional bare seq, and validates before sending', () => {
    expect(decode(Heartbeat, 'heartbeat', '-1').ok).toBe(false);
    expect(decode(Heartbeat, 'heartbeat', '1.5').ok).toBe(false);
    expect(() => encodeHeartbeat({ v: 1, seq: -1 })).toThrowError(/seq/);
  });
});
