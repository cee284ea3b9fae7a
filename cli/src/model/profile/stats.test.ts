import { describe, expect, it } from 'vitest';
import { differenceInterval, wilson } from './stats.ts';

describe('wilson', () => {
  it('matches the published interval for 81 of 263 (0.2553 to 0.3662)', () => {
    const w = wilson(81, 263);
    expect(w.low).toBeCloseTo(0.2553, 3);
    expect(w.high).toBeCloseTo(0.3662, 3);
  });
  it('stays inside [0, 1] at the extremes and is not degenerate at 100 %', () => {
    const w = wilson(1000, 1000);
    expect(w.high).toBe(1);
    expect(w.low).toBeGreaterThan(0.99);
    expect(w.low).toBeLessThan(1);
  });
});

describe('differenceInterval', () => {
  it('matches Newcombe’s worked example (56/70 - 48/80: 0.0524 to 0.3339)', () => {
    const d = differenceInterval({ correct: 56, total: 70 }, { correct: 48, total: 80 });
    expect(d.low).toBeCloseTo(0.0524, 3);
    expect(d.high).toBeCloseTo(0.3339, 3);
  });
});
