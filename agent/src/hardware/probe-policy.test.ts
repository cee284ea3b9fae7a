import { describe, expect, it } from 'vitest';
import { afterFullProbe, afterRttCheck, afterTransfer, decideProbe, DEFAULT_PROBE_POLICY as P, idleProbeBytesPerSec, type LinkEstimate } from './probe-policy.ts';

const H = 3_600_000;
const est = (over: Partial<LinkEstimate> = {}): LinkEstimate => ({ bandwidthMbps: 100, rttMs: 20, link: 'ethernet/eth0', bandwidthAtMs: 0, rttAtMs: 0, ...over });

describe('decideProbe', () => {
  const rows: { name: string; estimate: LinkEstimate | null; link?: string; metered?: boolean; now: number; want: ReturnType<typeof decideProbe> }[] = [
    { name: 'no figure yet: full probe', estimate: null, now: 0, want: { kind: 'full', reason: 'no-estimate' } },
    { name: 'another link: full probe', estimate: est(), link: 'cellular-4g/wwan0', now: 60_000, want: { kind: 'full', reason: 'link-changed' } },
    { name: 'fresh figure: nothing until the round-trip check', estimate: est(), now: 10 * 60_000, want: { kind: 'none', nextCheckAtMs: H } },
    { name: 'check period passed: round trip only', estimate: est(), now: H, want: { kind: 'rtt' } },
    { name: 'figure a week old: full probe', estimate: est({ rttAtMs: 7 * 24 * H - 1 }), now: 7 * 24 * H, want: { kind: 'full', reason: 'stale' } },
    { name: 'metered: the check waits 12 periods', estimate: est(), metered: true, now: 11 * H, want: { kind: 'none', nextCheckAtMs: 12 * H } },
    { name: 'metered: a week-old figure is not stale yet', estimate: est({ rttAtMs: 7 * 24 * H }), metered: true, now: 7 * 24 * H + 1, want: { kind: 'none', nextCheckAtMs: 7 * 24 * H + 12 * H } },
  ];
  for (const r of rows) it(r.name, () => expect(decideProbe(r.estimate, r.link ?? 'ethernet/eth0', r.metered ?? false, r.now)).toEqual(r.want));
});

describe('afterRttCheck', () => {
  const rows = [
    { name: 'same round trip: keep the bandwidth', was: 20, now: 24, full: false },
    { name: 'twice as long: measure again', was: 20, now: 40, full: true },
    { name: 'under half as long: measure again', was: 60, now: 25, full: true },
    { name: 'jitter on a fast link is no shift, twice as long as it may be', was: 1, now: 9, full: false },
    { name: 'a slow link that got twice as slow: measure again', was: 45, now: 95, full: true },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const out = afterRttCheck(est({ rttMs: r.was }), r.now, 5 * H);
      expect(out.fullProbe).toBe(r.full);
      expect(out.estimate).toMatchObject({ rttMs: r.now, rttAtMs: 5 * H, bandwidthAtMs: 0 });
    });
  }
});

describe('afterTransfer', () => {
  it('takes a large download on the same link as the bandwidth, round trip taken off', () => {
    // 1 MiB in 100 ms after a 20 ms round trip: 8388608 bits in 80 ms.
    expect(afterTransfer(est(), { bytes: 1024 * 1024, elapsedMs: 100, link: 'ethernet/eth0', atMs: 9 * H })).toEqual(est({ bandwidthMbps: 105, bandwidthAtMs: 9 * H }));
  });
  const ignored = [
    { name: 'too small to measure', t: { bytes: 64 * 1024, elapsedMs: 100 } },
    { name: 'too short to measure', t: { bytes: 1024 * 1024, elapsedMs: 10 } },
    { name: 'on another link', t: { bytes: 1024 * 1024, elapsedMs: 100, link: 'wifi/wlan0' } },
  ];
  for (const r of ignored) it(`ignores a transfer ${r.name}`, () => expect(afterTransfer(est(), { link: 'ethernet/eth0', atMs: 1, ...r.t })).toBeNull());
  it('ignores a transfer before any estimate: the probe gives the round trip first', () => {
    expect(afterTransfer(null, { bytes: 1024 * 1024, elapsedMs: 100, link: 'ethernet/eth0', atMs: 1 })).toBeNull();
  });
  it('postpones the next full probe by refreshing the figure', () => {
    const refreshed = afterTransfer(est(), { bytes: 1024 * 1024, elapsedMs: 100, link: 'ethernet/eth0', atMs: 6 * 24 * H })!;
    expect(decideProbe(refreshed, 'ethernet/eth0', false, 7 * 24 * H).kind).toBe('rtt');
  });
});

describe('idle cost', () => {
  it('a full probe a week and a round-trip check an hour cost a few bit/s', () => {
    // Frame bytes measured by the fleet bench on loopback: full 517,640; a round-trip check about 450.
    const bitsPerSec = idleProbeBytesPerSec(517_640, 450, false) * 8;
    expect(bitsPerSec).toBeGreaterThan(6);
    expect(bitsPerSec).toBeLessThan(8);
    // The period it replaced: a full probe every hour.
    expect((517_640 * 8) / 3600).toBeGreaterThan(1000);
  });

  it('on an unchanged link a full probe comes once a week: two in the two weeks after the first', () => {
    let e = afterFullProbe({ bandwidthMbps: 900, rttMs: 1 }, 'ethernet/eth0', 0);
    let full = 0;
    for (let t = 0; t <= 14 * 24 * H; t += 60_000) {
      const d = decideProbe(e, 'ethernet/eth0', false, t, P);
      if (d.kind === 'full') {
        full++;
        e = afterFullProbe({ bandwidthMbps: 900, rttMs: 1 }, 'ethernet/eth0', t);
      } else if (d.kind === 'rtt') {
        e = afterRttCheck(e, 1, t).estimate;
      }
    }
    expect(full).toBe(2);
  });
});
