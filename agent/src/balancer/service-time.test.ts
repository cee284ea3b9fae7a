import { describe, expect, it } from 'vitest';
import { percentile } from './latency-window.ts';
import { ServiceTimes } from './service-time.ts';

describe('ServiceTimes', () => {
  const cases: { name: string; observe: [number, number][]; rows: number; maxBatch?: number; want: number; work?: boolean }[] = [
    { name: 'prior scales with rows before any measurement', observe: [], rows: 4, want: 8 },
    { name: 'first measurement replaces the prior', observe: [[1, 5]], rows: 1, want: 5 },
    { name: 'EWMA moves a fifth of the way', observe: [[1, 5], [1, 10]], rows: 1, want: 6 },
    { name: 'unmeasured size scales the nearest measured one', observe: [[4, 8]], rows: 2, want: 4 },
    { name: 'work splits into full batches and a rest', observe: [[4, 6], [2, 5]], rows: 10, maxBatch: 4, want: 17, work: true },
    { name: 'no rows, no work', observe: [[1, 3]], rows: 0, maxBatch: 4, want: 0, work: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const t = new ServiceTimes(2);
      for (const [rows, ms] of c.observe) t.observe(rows, ms);
      expect(c.work ? t.work(c.rows, c.maxBatch ?? 1) : t.estimate(c.rows)).toBeCloseTo(c.want, 9);
    });
  }
});

describe('ServiceTimes prior calibration', () => {
  it('has no bias before a batch of one is measured, then measured over the prior as given', () => {
    const t = new ServiceTimes(2);
    expect(t.priorBias()).toBeUndefined();
    t.observe(4, 80);
    expect(t.priorBias()).toBeUndefined();
    t.observe(1, 30);
    expect(t.priorBias()).toBeCloseTo(15, 9);
  });

  it('scales the prior it estimates from, never a measurement', () => {
    const t = new ServiceTimes(2);
    t.calibratePrior(10);
    expect(t.estimate(3)).toBeCloseTo(60, 9);
    // The bias stays measured over the prior as given, not the calibrated one.
    t.observe(1, 40);
    expect(t.priorBias()).toBeCloseTo(20, 9);
    t.calibratePrior(100);
    expect(t.estimate(1)).toBeCloseTo(40, 9);
    // Nonsense is ignored.
    const u = new ServiceTimes(2);
    u.calibratePrior(Number.NaN);
    u.calibratePrior(0);
    expect(u.estimate(1)).toBeCloseTo(2, 9);
  });
});

describe('ServiceTimes.preferredBatch', () => {
  const cases: { name: string; prior: number; observe: [number, number][]; want: number }[] = [
    { name: 'tries maxBatch before judging', prior: 1, observe: [], want: 8 },
    { name: 'keeps maxBatch when it pays', prior: 4, observe: [[8, 10]], want: 8 },
    { name: 'falls back to 1 when batches cost more per row', prior: 1, observe: [[8, 12]], want: 1 },
    { name: 'picks a middle size when that is best', prior: 4, observe: [[8, 30], [4, 6]], want: 4 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const t = new ServiceTimes(c.prior);
      for (const [rows, ms] of c.observe) t.observe(rows, ms);
      expect(t.preferredBatch(8)).toBe(c.want);
    });
  }
});

describe('percentile', () => {
  const cases = [
    { values: [], q: 0.5, want: 0 },
    { values: [7], q: 0.99, want: 7 },
    { values: [1, 2, 3, 4], q: 0.5, want: 2 },
    { values: Array.from({ length: 100 }, (_, i) => i + 1), q: 0.99, want: 99 },
  ];
  for (const c of cases) {
    it(`p${c.q * 100} of ${c.values.length} values`, () => expect(percentile(c.values, c.q)).toBe(c.want));
  }
});
