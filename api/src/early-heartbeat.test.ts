import { describe, expect, it } from 'vitest';
import { batteryClass, createEarlyHeartbeatDriver, DEFAULT_BATTERY_THRESHOLDS, EarlyHeartbeatPolicy, earlyHeartbeatSettings, linkClass, type Conditions, type EarlyReason } from './early-heartbeat.ts';

const T = [DEFAULT_BATTERY_THRESHOLDS];
const mains: Conditions = { power: { source: 'mains' }, network: { type: 'ethernet', bandwidthMbps: 1000 } };
const battery = (batteryPercent: number, charging = false): Conditions => ({ power: { source: 'battery', batteryPercent, charging }, network: mains.network });

describe('batteryClass', () => {
  it('puts levels the control plane caps alike in one class and different caps apart', () => {
    expect(DEFAULT_BATTERY_THRESHOLDS).toEqual({ fp16BelowPercent: 50, int8BelowPercent: 20, hysteresisPercent: 5 });
    expect(batteryClass(battery(80).power, T)).toBe(batteryClass(battery(56).power, T));
    expect(batteryClass(battery(55).power, T)).not.toBe(batteryClass(battery(54).power, T)); // fp16 cap lifted at 55
    expect(batteryClass(battery(50).power, T)).not.toBe(batteryClass(battery(49).power, T)); // fp16 cap from 49
    expect(batteryClass(battery(49).power, T)).toBe(batteryClass(battery(26).power, T));
    expect(batteryClass(battery(20).power, T)).not.toBe(batteryClass(battery(19).power, T));
    // As on the wire: 49.6 is sent as 50.
    expect(batteryClass(battery(49.6).power, T)).toBe(batteryClass(battery(50).power, T));
  });

  it('calls mains, charging and an unknown level uncapped', () => {
    expect(batteryClass(mains.power, T)).toBe('mains');
    expect(batteryClass(battery(10, true).power, T)).toBe('mains');
    expect(batteryClass({ source: 'battery' }, T)).toBe('mains');
    expect(batteryClass(battery(10).power, T)).not.toBe('mains');
  });

  it('adds the edges of every threshold set it is given', () => {
    const two = [DEFAULT_BATTERY_THRESHOLDS, { fp16BelowPercent: 70, int8BelowPercent: 30, hysteresisPercent: 2 }];
    expect(batteryClass(battery(69).power, T)).toBe(batteryClass(battery(71).power, T));
    expect(batteryClass(battery(69).power, two)).not.toBe(batteryClass(battery(71).power, two));
  });
});

describe('linkClass', () => {
  it('changes with the link type and metering, not with measured speed', () => {
    expect(linkClass({ type: 'wifi', bandwidthMbps: 50 })).toBe(linkClass({ type: 'wifi', bandwidthMbps: 5, rttMs: 80 }));
    expect(linkClass({ type: 'wifi' })).not.toBe(linkClass({ type: 'cellular-4g' }));
    expect(linkClass({ type: 'cellular-4g' })).not.toBe(linkClass({ type: 'cellular-4g', metered: true }));
  });
});

describe('EarlyHeartbeatPolicy', () => {
  const settings = earlyHeartbeatSettings(5000); // refill 1250 ms, burst 3, coalesce 20 ms

  it('owes nothing before the first heartbeat and after a heartbeat that carried everything', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.observe(battery(10), 0);
    expect(p.pending()).toEqual([]);
    p.sent(battery(10), 0, false, 10);
    expect(p.dueAtMs(10)).toBeNull();
  });

  it('reports a workload change after the coalescing window', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.sent(mains, 0, false, 0);
    p.workloadChanged(100);
    p.workloadChanged(105);
    expect(p.pending()).toEqual(['workload']);
    expect(p.dueAtMs(105)).toBe(120);
    p.sent(mains, p.workloadChanges, true, 120);
    expect(p.pending()).toEqual([]);
  });

  it('keeps a change made while the heartbeat was being read pending', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.sent(mains, 0, false, 0);
    p.workloadChanged(100);
    const covered = p.workloadChanges;
    p.workloadChanged(118); // after telemetry was read, before publish
    p.sent(mains, covered, true, 120);
    expect(p.pending()).toEqual(['workload']);
    expect(p.dueAtMs(120)).toBe(140);
  });

  it('reports battery and link crossings, and forgets one that went back before it was sent', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.sent(battery(60), 0, false, 0);
    p.observe(battery(58), 100);
    expect(p.pending()).toEqual([]);
    p.observe(battery(45), 200);
    expect(p.pending()).toEqual(['battery']);
    p.observe(battery(60), 210);
    expect(p.pending()).toEqual([]);
    expect(p.dueAtMs(210)).toBeNull();
    p.observe({ ...battery(45), network: { type: 'cellular-4g', metered: true } }, 300);
    expect(p.pending()).toEqual(['battery', 'link']);
    expect(p.dueAtMs(300)).toBe(320);
  });

  it('allows a burst of three early heartbeats, then one per refill period', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.sent(mains, 0, false, 0);
    const sends: number[] = [];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      p.workloadChanged(t);
      const due = p.dueAtMs(t)!;
      t = due;
      p.sent(mains, p.workloadChanges, true, t);
      sends.push(t);
    }
    expect(sends.slice(0, 3)).toEqual([20, 40, 60]);
    // Tokens are spent: the next wait for the refill (1250 ms a token, less what accrued).
    expect(sends[3]! - sends[2]!).toBeGreaterThan(1100);
    expect(sends[4]! - sends[3]!).toBeCloseTo(1250, 0);
    expect(sends[5]! - sends[4]!).toBeCloseTo(1250, 0);
  });

  it('bounds a flapping workload to the refill rate over a long run', () => {
    const p = new EarlyHeartbeatPolicy(earlyHeartbeatSettings(1000), 0); // refill 250 ms
    p.sent(mains, 0, false, 0);
    let early = 0;
    let t = 0;
    while (t < 60_000) {
      p.workloadChanged(t);
      const due = p.dueAtMs(t)!;
      t = Math.max(t + 5, due);
      if (due <= t) {
        p.sent(mains, p.workloadChanges, true, t);
        early += 1;
      }
    }
    expect(early).toBeLessThanOrEqual(60_000 / 250 + 3);
    expect(early).toBeGreaterThan(60_000 / 250 - 5);
  });

  it('a regular heartbeat settles what was pending', () => {
    const p = new EarlyHeartbeatPolicy(settings, 0);
    p.sent(battery(60), 0, false, 0);
    p.workloadChanged(10);
    p.observe(battery(40), 12);
    p.sent(battery(40), p.workloadChanges, false, 15);
    expect(p.pending()).toEqual([]);
    expect(p.dueAtMs(15)).toBeNull();
  });
});

describe('createEarlyHeartbeatDriver', () => {
  /** `link`: 'up' publishes at once, 'down' cannot publish, 'slow' leaves the send in flight. */
  function harness(intervalMs = 5000) {
    let t = 0;
    let timers: Array<{ at: number; fn: () => void }> = [];
    const sends: Array<{ at: number; reasons: EarlyReason[] }> = [];
    const tries: number[] = [];
    const inFlight: Array<() => void> = [];
    let conditions = mains;
    let link: 'up' | 'down' | 'slow' = 'up';
    const d = createEarlyHeartbeatDriver({
      intervalMs,
      send: (reasons) => {
        tries.push(t);
        if (link === 'down') return d.notSent();
        const covered = d.policy.workloadChanges;
        const publish = () => {
          sends.push({ at: t, reasons });
          d.sent(conditions, covered, true);
        };
        if (link === 'slow') inFlight.push(publish);
        else publish();
      },
      timers: {
        now: () => t,
        setTimer: (fn, ms) => {
          const timer = { at: t + ms, fn };
          timers.push(timer);
          return timer;
        },
        clearTimer: (timer) => (timers = timers.filter((x) => x !== timer)),
      },
    });
    const advance = (ms: number) => {
      const end = t + ms;
      for (;;) {
        const next = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        t = next.at;
        timers = timers.filter((x) => x !== next);
        next.fn();
      }
      t = end;
    };
    return {
      d,
      sends,
      tries,
      advance,
      set: (c: Conditions) => (conditions = c),
      setLink: (l: typeof link) => (link = l),
      /** Completes the sends in flight (a slow telemetry read that finally returns). */
      land: () => inFlight.splice(0).forEach((f) => f()),
      pendingTimers: () => timers.length,
    };
  }

  it('keeps a change it could not send and sends it at once when the sender is back', () => {
    const h = harness();
    h.d.sent(mains, 0, false);
    h.setLink('down');
    h.d.workloadChanged();
    h.advance(100);
    expect(h.tries).toEqual([20]);
    expect(h.sends).toEqual([]);
    h.d.workloadChanged(); // while down: no try before the retry time
    h.advance(500);
    expect(h.tries).toEqual([20]);
    h.setLink('up');
    h.d.resume();
    h.advance(1);
    expect(h.sends).toEqual([{ at: 600, reasons: ['workload'] }]);
    expect(h.pendingTimers()).toBe(0);
  });

  it('retries an unsent change at the refill pace without a resume', () => {
    const h = harness();
    h.d.sent(mains, 0, false);
    h.setLink('down');
    h.d.workloadChanged();
    h.advance(1300);
    expect(h.tries).toEqual([20, 1270]);
    h.setLink('up');
    h.advance(1300);
    expect(h.sends).toEqual([{ at: 2520, reasons: ['workload'] }]);
  });

  it('keeps one early heartbeat in flight: changes meanwhile go in the next, no token is wasted', () => {
    const h = harness();
    h.d.sent(mains, 0, false);
    h.setLink('slow');
    h.d.workloadChanged();
    h.advance(30);
    expect(h.tries).toEqual([20]);
    // More changes and polls while the first is still being read and published.
    h.d.workloadChanged();
    h.d.observe(mains);
    h.advance(200);
    expect(h.tries).toEqual([20]);
    h.setLink('up');
    h.land();
    h.advance(100);
    // The second change was made after the first heartbeat read its telemetry: one more, after
    // the coalescing window, and nothing for the poll that changed nothing.
    expect(h.sends.map((s) => s.at)).toEqual([230, 250]);
    expect(h.d.policy.pending()).toEqual([]);
    expect(h.pendingTimers()).toBe(0);
  });

  it('sends one heartbeat for a burst of changes and none when nothing changed', () => {
    const h = harness();
    h.d.sent(mains, 0, false);
    h.advance(1000);
    expect(h.sends).toEqual([]);
    h.d.workloadChanged();
    h.advance(5);
    h.d.workloadChanged();
    h.advance(100);
    expect(h.sends).toEqual([{ at: 1020, reasons: ['workload'] }]);
    expect(h.pendingTimers()).toBe(0);
  });

  it('sends a battery crossing seen on a poll, with the reason', () => {
    const h = harness();
    h.set(battery(60));
    h.d.sent(battery(60), 0, false);
    h.set(battery(45));
    h.d.observe(battery(45));
    h.advance(50);
    expect(h.sends).toEqual([{ at: 20, reasons: ['battery'] }]);
    h.d.observe(battery(44));
    h.advance(50);
    expect(h.sends).toHaveLength(1);
  });

  it('sends nothing once stopped', () => {
    const h = harness();
    h.d.sent(mains, 0, false);
    h.d.workloadChanged();
    h.d.stop();
    h.advance(1000);
    expect(h.sends).toEqual([]);
  });
});
