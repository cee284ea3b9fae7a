import { describe, expect, it } from 'vitest';
import { dequantizePerChannel, quantizePerChannel, RangeTracker, uint8Params } from './math.ts';

describe('quantizePerChannel', () => {
  it('scales each output channel by its own largest magnitude', () => {
    const data = Float32Array.of(1, -0.5, 0.25, 0, 10, -20, 5, 0);
    const pc = quantizePerChannel(data, [2, 4], 0);
    expect(Array.from(pc.scales)).toEqual([Math.fround(1 / 127), Math.fround(20 / 127)]);
    expect(Array.from(pc.q)).toEqual([127, -64, 32, 0, 64, -127, 32, 0]);
    const back = dequantizePerChannel(pc, [2, 4], 0);
    data.forEach((v, i) => expect(Math.abs((back[i] ?? 0) - v)).toBeLessThanOrEqual((pc.scales[i < 4 ? 0 : 1] ?? 0) / 2 + 1e-6));
  });
  it('quantizes along an inner axis (MatMul columns)', () => {
    const pc = quantizePerChannel(Float32Array.of(1, 100, -1, -50), [2, 2], 1);
    expect(Array.from(pc.q)).toEqual([127, 127, -127, -64]);
  });
  it('gives an all-zero channel a usable scale', () => {
    expect(Array.from(quantizePerChannel(new Float32Array(4), [1, 4], 0).scales)).toEqual([1]);
  });
});

describe('uint8Params', () => {
  const rows = [
    { name: 'non-negative range', min: 0, max: 6, scale: 6 / 255, zeroPoint: 0 },
    { name: 'symmetric range', min: -1, max: 1, scale: 2 / 255, zeroPoint: 128 },
    { name: 'negative range widened to include zero', min: -4, max: -1, scale: 4 / 255, zeroPoint: 255 },
    { name: 'empty range', min: 0, max: 0, scale: 1, zeroPoint: 0 },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const p = uint8Params(r.min, r.max);
      expect(p.scale).toBeCloseTo(r.scale, 9);
      expect(p.zeroPoint).toBe(r.zeroPoint);
    });
  }
});

describe('RangeTracker', () => {
  it('keeps min/max and cuts outliers with a percentile', () => {
    const t = new RangeTracker(1 << 16);
    const values = Float32Array.from({ length: 10_000 }, (_, i) => i / 10_000);
    values[0] = -1000;
    values[1] = 1000;
    t.add(values);
    expect(t.minMax()).toEqual({ min: -1000, max: 1000 });
    const p = t.percentile(99.9);
    expect(p.min).toBeGreaterThan(-1);
    expect(p.max).toBeLessThan(1.01);
    expect(t.count()).toBe(10_000);
  });
});
