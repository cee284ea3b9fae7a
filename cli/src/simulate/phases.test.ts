import { describe, expect, it } from 'vitest';
import { downloadMs, latencyOf, loadMs, type PhaseTimingOptions } from './phases.ts';
import { PROFILES } from './profiles.ts';

const realTime: PhaseTimingOptions = { timeScale: 1, defaultBandwidthMbps: 10, loadMBps: 200, loadFixedMs: 150 };

describe('phase timing', () => {
  const rows = [
    { name: '10 MB over 10 Mbit/s takes 8 s', size: 10e6, network: { type: 'wifi' as const, bandwidthMbps: 10 }, cached: false, want: 8000 },
    { name: 'round trip is added', size: 1e6, network: { type: 'ethernet' as const, bandwidthMbps: 80, rttMs: 50 }, cached: false, want: 150 },
    { name: 'no bandwidth known: the default', size: 1.25e6, network: { type: 'lora' as const }, cached: false, want: 1000 },
    { name: 'cached: no download', size: 10e6, network: { type: 'lora' as const, bandwidthMbps: 0.01 }, cached: true, want: 0 },
  ];
  for (const row of rows) it(row.name, () => expect(downloadMs(row.size, row.network, row.cached, realTime)).toBeCloseTo(row.want, 6));

  it('scales with timeScale', () => {
    expect(downloadMs(10e6, { type: 'wifi', bandwidthMbps: 10 }, false, { ...realTime, timeScale: 0.01 })).toBeCloseTo(80, 6);
    expect(loadMs(20e6, realTime)).toBeCloseTo(250, 6);
  });
});

describe('latencyOf', () => {
  const xavier = PROFILES.jetson.accelerators;
  it('a faster accelerator and a lower precision are faster', () => {
    const cpu = latencyOf({ sizeBytes: 10e6, precision: 'fp32' }, xavier[0], 0.3);
    const gpu = latencyOf({ sizeBytes: 10e6, precision: 'fp32' }, xavier[1], 0.3);
    const gpuInt8 = latencyOf({ sizeBytes: 2.5e6, precision: 'int8' }, xavier[1], 0.3);
    expect(gpu.p99Ms).toBeLessThan(cpu.p99Ms);
    expect(gpuInt8.p99Ms).toBeLessThan(gpu.p99Ms);
    expect(cpu.p99Ms).toBeGreaterThan(cpu.p50Ms);
  });
});
