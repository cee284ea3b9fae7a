import { HISTORY_INTERVAL_MS, type HistorySample } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { HistoryFormatError, historyColumns, packSample, sampleOf, tickOf, unpackSample, workloadHash, type UnpackedSample } from './history-pack.ts';

const T0 = 1_790_000_000_000;
const sample = (over: Partial<HistorySample> = {}): HistorySample => ({
  t: T0,
  batteryPercent: 63,
  charging: true,
  reachable: true,
  link: 'cellular-4g',
  workloads: [{ deployment: 'ocr/ocr-line', p99Ms: 41.3, precision: 'fp16' }],
  ...over,
});
const named = (s: UnpackedSample[]) => new Map(s.flatMap((x) => x.workloads).map((w) => [w.hash, w.hash === workloadHash('ocr/ocr-line') ? 'ocr/ocr-line' : 'ocr/det']));

describe('packSample / unpackSample', () => {
  it('round-trips a sample in 7 bytes plus 7 per workload', () => {
    const buf = packSample(sample());
    expect(buf.length).toBe(14);
    const u = unpackSample(buf);
    expect(u).toMatchObject({ t: T0, batteryPercent: 63, charging: true, reachable: true, link: 'cellular-4g' });
    expect(u.workloads).toHaveLength(1);
    expect(u.workloads[0]?.hash).toBe(workloadHash('ocr/ocr-line'));
    expect(u.workloads[0]?.precision).toBe('fp16');
    // binary16 keeps about three significant digits.
    expect(u.workloads[0]?.p99Ms).toBeCloseTo(41.3, 1);
  });

  it('keeps nulls apart from zeros: no battery, no link, unmeasured p99, unknown precision', () => {
    const u = unpackSample(packSample(sample({ batteryPercent: null, charging: false, reachable: false, link: null, workloads: [{ deployment: 'a/b', p99Ms: null, precision: null }] })));
    expect(u).toMatchObject({ batteryPercent: null, charging: false, reachable: false, link: null });
    expect(u.workloads[0]).toMatchObject({ p99Ms: null, precision: null });
    const zero = unpackSample(packSample(sample({ batteryPercent: 0, link: 'ethernet', workloads: [{ deployment: 'a/b', p99Ms: 0, precision: 'fp32' }] })));
    expect(zero).toMatchObject({ batteryPercent: 0, link: 'ethernet' });
    expect(zero.workloads[0]).toMatchObject({ p99Ms: 0, precision: 'fp32' });
  });

  it('rounds time down to its 10 s tick and clamps the battery', () => {
    const u = unpackSample(packSample(sample({ t: T0 + 9_999, batteryPercent: 140 })));
    expect(u.t).toBe(tickOf(T0 + 9_999) * HISTORY_INTERVAL_MS);
    expect(u.t % HISTORY_INTERVAL_MS).toBe(0);
    expect(u.batteryPercent).toBe(100);
  });

  it('refuses a truncated or padded buffer with a typed error', () => {
    const buf = packSample(sample());
    expect(() => unpackSample(buf.subarray(0, 10))).toThrow(HistoryFormatError);
    expect(() => unpackSample(Buffer.concat([buf, Buffer.alloc(1)]))).toThrow(/15 bytes for 1 workloads/);
    expect(() => unpackSample(Buffer.alloc(3))).toThrow(/at least 7/);
  });

  it('every link type survives', () => {
    for (const link of ['ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora'] as const) {
      expect(unpackSample(packSample(sample({ link }))).link).toBe(link);
    }
  });
});

describe('historyColumns', () => {
  it('aligns workloads on the time axis, sorted by time, and marks precision changes', () => {
    const s = [
      sample({ t: T0 + 20_000, batteryPercent: 19, workloads: [{ deployment: 'ocr/ocr-line', p99Ms: 30, precision: 'int8' }] }),
      sample({ t: T0, batteryPercent: 25 }),
      sample({ t: T0 + 10_000, batteryPercent: 21, workloads: [{ deployment: 'ocr/det', p99Ms: 80, precision: 'fp32' }] }),
    ].map((x) => unpackSample(packSample(x)));
    const h = historyColumns('n1', s, named(s));
    expect(h.t).toEqual([T0, T0 + 10_000, T0 + 20_000]);
    expect(h.batteryPercent).toEqual([25, 21, 19]);
    expect(h.workloads.map((w) => w.deployment)).toEqual(['ocr/det', 'ocr/ocr-line']);
    const line = h.workloads.find((w) => w.deployment === 'ocr/ocr-line');
    expect(line?.precision).toEqual(['fp16', null, 'int8']);
    // fp16 -> (absent) -> int8 is one tier change, at the sample where int8 appears.
    expect(h.tierChanges).toEqual([{ t: T0 + 20_000, deployment: 'ocr/ocr-line', from: 'fp16', to: 'int8' }]);
  });

  it('keeps one row per tick and names unknown hashes', () => {
    const a = unpackSample(packSample(sample({ batteryPercent: 50 })));
    const b = unpackSample(packSample(sample({ batteryPercent: 49 })));
    const h = historyColumns('n1', [a, b], new Map());
    expect(h.t).toHaveLength(1);
    expect(h.batteryPercent).toEqual([49]);
    expect(h.workloads[0]?.deployment).toMatch(/^#[0-9a-f]{8}$/);
  });
});

describe('sampleOf', () => {
  it('takes one column per deployment from a node view', () => {
    const s = sampleOf(
      {
        power: { batteryPercent: 12, charging: false },
        reachable: true,
        link: { type: 'wifi' },
        workloads: [
          { deployment: 'a/x', p99Ms: 1, precision: 'fp16' },
          { deployment: 'a/x', p99Ms: 2, precision: 'fp16' },
        ],
      },
      T0 + 5_000,
    );
    expect(s.t).toBe(T0);
    expect(s.workloads).toHaveLength(1);
    expect(s).toMatchObject({ batteryPercent: 12, link: 'wifi', charging: false });
  });
});
