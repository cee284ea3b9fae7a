import { describe, expect, it } from 'vitest';
import { MIN_UPWARD_DEADLINE_MS, replyMarginMs, upwardTiming } from './deadline.ts';

describe('upwardTiming', () => {
  it('waits for the remaining time less one margin and gives the tier one margin less again', () => {
    expect(upwardTiming(1000)).toEqual({ waitMs: 950, deadlineMs: 900 });
    expect(upwardTiming(200)).toEqual({ waitMs: 180, deadlineMs: 160 });
  });

  it('the margin is a tenth of what is left, between 5 and 50 ms', () => {
    expect(replyMarginMs(20)).toBe(5);
    expect(replyMarginMs(300)).toBe(30);
    expect(replyMarginMs(60_000)).toBe(50);
  });

  it('always ends before the remaining time, and sends nothing when too little is left', () => {
    for (const remaining of [21, 25, 40, 77, 150, 999, 5000]) {
      const t = upwardTiming(remaining);
      expect(t, `remaining ${remaining}`).not.toBeNull();
      expect(t!.waitMs).toBeLessThan(remaining);
      expect(t!.deadlineMs).toBeLessThan(t!.waitMs);
      expect(t!.deadlineMs).toBeGreaterThanOrEqual(MIN_UPWARD_DEADLINE_MS);
    }
    expect(upwardTiming(15)).toBeNull();
    expect(upwardTiming(-3)).toBeNull();
    expect(upwardTiming(Number.NaN)).toBeNull();
  });
});
