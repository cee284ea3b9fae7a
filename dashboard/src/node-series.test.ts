import { describe, expect, it } from 'vitest';
import type { HistorySample, NodeHistory } from '../../api/src/dashboard.ts';
import { liveRow, mergeSamples, nodeSeries } from './node-series.ts';

const history: NodeHistory = {
  node: 'pi',
  intervalMs: 10_000,
  t: [10_000, 20_000, 30_000],
  batteryPercent: [60, 45, 18],
  charging: [false, false, false],
  reachable: [true, true, true],
  link: ['wifi', 'wifi', 'cellular-4g'],
  workloads: [{ deployment: 'w/ocr', p99Ms: [20, 15, 9], precision: ['fp32', 'fp16', 'int8'] }],
  tierChanges: [],
};

describe('node series', () => {
  it('history, later samples and the live row become columns with tier changes found', () => {
    const rows = mergeSamples(history, [
      { t: 30_000, batteryPercent: 1, charging: false, reachable: true, link: null, workloads: [] },
      { t: 40_000, batteryPercent: 17, charging: true, reachable: true, link: 'ethernet', workloads: [{ deployment: 'w/ocr', p99Ms: 8, precision: 'int8' }] },
    ]);
    expect(rows.map((r) => r.t)).toEqual([10_000, 20_000, 30_000, 40_000]);
    const s = nodeSeries(rows, 15_000);
    expect(s.t).toEqual([20_000, 30_000, 40_000]);
    expect(s.battery).toEqual([45, 18, 17]);
    expect(s.link).toEqual([3, 1, 4]);
    expect(s.workloads).toEqual([{ deployment: 'w/ocr', tier: [1, 0, 0], p99: [15, 9, 8] }]);
    expect(s.tierChanges).toEqual([{ t: 30_000, deployment: 'w/ocr', from: 'fp16', to: 'int8' }]);
  });

  it('later rows given out of order are sorted, one per time', () => {
    const row = (t: number, batteryPercent: number) => ({ t, batteryPercent, charging: false, reachable: true, link: null, workloads: [] });
    const rows = mergeSamples(history, [row(50_000, 5), row(40_000, 7), row(50_000, 4), row(20_000, 99)]);
    expect(rows.map((r) => [r.t, r.batteryPercent])).toEqual([[10_000, 60], [20_000, 45], [30_000, 18], [40_000, 7], [50_000, 4]]);
  });

  it('a state the page saw between two history samples stays, and its tier change is marked', () => {
    // History sampled int8 at 20 s and 30 s; the page saw fp32 for a moment at 25 s.
    const h: NodeHistory = { ...history, t: [20_000, 30_000], batteryPercent: [70, 17], charging: [false, false], reachable: [true, true], link: ['wifi', 'wifi'], workloads: [{ deployment: 'w/ocr', p99Ms: [9, 9], precision: ['int8', 'int8'] }] };
    const seen: HistorySample = { t: 25_000, batteryPercent: 76, charging: false, reachable: true, link: 'wifi', workloads: [{ deployment: 'w/ocr', p99Ms: null, precision: 'fp32' }] };
    const rows = mergeSamples(h, [seen]);
    expect(rows.map((r) => r.t)).toEqual([20_000, 25_000, 30_000]);
    expect(nodeSeries(rows, 0).tierChanges.map((c) => `${c.from}->${c.to}`)).toEqual(['int8->fp32', 'fp32->int8']);
  });

  it('the live node is the newest row, its tier from the stream and its p99 the latest measured', () => {
    const live = {
      name: 'gw', site: null, labels: {}, unschedulable: false, ready: true, reachable: true, accelerators: [], rev: 3,
      power: { source: 'battery' as const, batteryPercent: 16, charging: false }, link: null,
      workloads: [{ deployment: 'w/ocr', variant: 'v-int8', precision: 'int8' as const, accelerator: 'cpu0', phase: 'Ready' as const }],
    };
    const before = mergeSamples(history, []).at(-1);
    expect(liveRow(live, 60_000, before)).toEqual({ t: 60_000, batteryPercent: 16, charging: false, reachable: true, link: null, workloads: [{ deployment: 'w/ocr', p99Ms: 9, precision: 'int8' }] });
    expect(liveRow(live, 60_000).workloads[0]?.p99Ms).toBeNull();
  });

  it('a workload missing from a sample is a gap, not a tier change', () => {
    const rows = mergeSamples(history, [
      { t: 40_000, batteryPercent: 17, charging: false, reachable: true, link: null, workloads: [] },
      { t: 50_000, batteryPercent: 16, charging: false, reachable: true, link: null, workloads: [{ deployment: 'w/ocr', p99Ms: 8, precision: 'int8' }] },
    ]);
    const s = nodeSeries(rows, 25_000);
    expect(s.workloads[0]?.tier).toEqual([0, null, 0]);
    expect(s.tierChanges).toEqual([]);
  });
});
