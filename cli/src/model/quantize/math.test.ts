import { describe, expect, it } from 'vitest';
import { affineReadBack, dequantizePerChannel, quantizePerChannel, RangeTracker, uint8Params, uint8ParamsWithin } from './math.ts';

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

describe('uint8ParamsWithin', () => {
  it('keeps the representable range inside the clip bounds as ORT checks them in float32', () => {
    const p = uint8ParamsWithin(-1, 7, 0, 6);
    expect(p.zeroPoint).toBe(0);
    expect(Math.fround(p.scale * 255)).toBeLessThanOrEqual(6 + 1.2e-7);
    expect(p.scale).toBeGreaterThan(6 / 255 - 1e-6);
  });
  it('uses the calibrated range when it is narrower than the bounds', () => {
    expect(uint8ParamsWithin(0, 2, 0, Number.POSITIVE_INFINITY).scale).toBeCloseTo(2 / 255, 7);
  });
});

describe('affineReadBack', () => {
  const dq = (q: number, p: { scale: number; zeroPoint: number }) => p.scale * (q - p.zeroPoint);
  it('reads a quantized x back as a * x + b through the DequantizeLinear alone', () => {
    const r = affineReadBack(-0.4, 5, 0.7, -0.1);
    expect(r).toBeDefined();
    for (const x of [-0.4, 0, 1.3, 5]) {
      const q = Math.max(0, Math.min(255, Math.round(x / r!.q.scale) + r!.q.zeroPoint));
      expect(Math.abs(dq(q, r!.dq) - (0.7 * x - 0.1))).toBeLessThanOrEqual(0.7 * r!.q.scale);
    }
    // The scale only widens, so the calibrated range is still covered.
    expect(r!.q.scale).toBeGreaterThanOrEqual(uint8Params(-0.4, 5).scale);
  });
  it('scales without shifting when b is 0, and refuses a negative slope or a shift below one step', () => {
    expect(affineReadBack(0, 6, 1 / 6, 0)?.dq.scale).toBeCloseTo(1 / 255, 9);
    expect(affineReadBack(0, 6, -1, 0)).toBeUndefined();
    expect(affineReadBack(0, 6, 1, 0.001)).toBeUndefined();
    // a * x + b > 0 over the whole range: the shifted zero point would be negative.
    expect(affineReadBack(-0.4, 5, 0.7, 0.3)).toBeUndefined();
  });
});
