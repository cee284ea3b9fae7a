import { describe, expect, it } from 'vitest';
import { createNudger } from './nudge.ts';

/** A clock and timers the test moves by hand. */
function harness(gapMs = 250) {
  let t = 1000;
  const timers: Array<{ at: number; fn: () => void }> = [];
  const sends: number[] = [];
  const n = createNudger({
    send: () => {
      sends.push(t);
      n.sent();
    },
    gapMs: () => gapMs,
    now: () => t,
    setTimer: (fn, ms) => {
      const timer = { at: t + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer) => timers.splice(timers.indexOf(timer as (typeof timers)[number]), 1),
  });
  const advance = (ms: number) => {
    t += ms;
    for (const timer of timers.filter((x) => x.at <= t)) {
      timers.splice(timers.indexOf(timer), 1);
      timer.fn();
    }
  };
  return { n, sends, advance, regular: () => n.sent() };
}

describe('createNudger', () => {
  it('sends at once when no heartbeat went out lately', () => {
    const h = harness();
    h.n.nudge();
    h.advance(0);
    expect(h.sends).toEqual([1000]);
  });

  it('coalesces a burst into one early heartbeat', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.n.nudge();
    h.advance(0);
    expect(h.sends).toHaveLength(1);
    expect(h.n.count).toBe(1);
  });

  it('waits out the gap after the last heartbeat, a regular one included', () => {
    const h = harness(250);
    h.regular();
    h.advance(100);
    h.n.nudge();
    h.advance(100);
    expect(h.sends).toEqual([]);
    h.advance(50);
    expect(h.sends).toEqual([1250]);
    // The next change, right after: again one gap later.
    h.n.nudge();
    h.advance(249);
    expect(h.sends).toHaveLength(1);
    h.advance(1);
    expect(h.sends).toEqual([1250, 1500]);
  });

  it('sends nothing once stopped', () => {
    const h = harness();
    h.regular();
    h.n.nudge();
    h.n.stop();
    h.advance(1000);
    expect(h.sends).toEqual([]);
  });
});
