import { describe, expect, it } from 'vitest';
import { isExpired, renewAtMs, renewDelayMs, renewRetryDelayMs, RENEW_RETRY } from './renewal-timing.ts';

const H = 3600;

describe('renewal timing', () => {
  const rows = [
    { name: '24 h credential renews after 16 h', l: { issuedAtS: 1000, expiresAtS: 1000 + 24 * H }, nowMs: 1000_000, want: 16 * H * 1000 },
    { name: 'half-way through: the rest of the two thirds', l: { issuedAtS: 0, expiresAtS: 3 * H }, nowMs: 1.5 * H * 1000, want: 0.5 * H * 1000 },
    { name: 'overdue: at once', l: { issuedAtS: 0, expiresAtS: 3 * H }, nowMs: 2.5 * H * 1000, want: 0 },
    { name: 'expired: at once', l: { issuedAtS: 0, expiresAtS: 3 * H }, nowMs: 4 * H * 1000, want: 0 },
    { name: 'never expires: never', l: { issuedAtS: 0, expiresAtS: null }, nowMs: 0, want: null },
  ];
  for (const r of rows) it(r.name, () => expect(renewDelayMs(r.l, r.nowMs)).toBe(r.want));

  it('renews at two thirds of the lifetime', () => {
    expect(renewAtMs({ issuedAtS: 300, expiresAtS: 600 })).toBe(500_000);
  });

  it('backs off after failures, but never past half the time left, nor under 1 s', () => {
    const l = { issuedAtS: 0, expiresAtS: 24 * H };
    const mid = () => 0.5;
    // Plenty of time left: plain backoff, growing to its cap.
    expect(renewRetryDelayMs(0, l, 16 * H * 1000, mid)).toBe(RENEW_RETRY.initialMs * 0.75);
    expect(renewRetryDelayMs(20, l, 16 * H * 1000, mid)).toBe(RENEW_RETRY.maxMs * 0.75);
    // Ten minutes left: at most five.
    expect(renewRetryDelayMs(20, l, (24 * H - 600) * 1000, mid)).toBe(300_000 * 0.75);
    expect(renewRetryDelayMs(20, l, (24 * H - 120) * 1000, mid)).toBe(60_000);
    // Two seconds left: not under one.
    expect(renewRetryDelayMs(20, l, (24 * H - 2) * 1000, mid)).toBe(1000);
    // Expired: no hurry any more.
    expect(renewRetryDelayMs(20, l, (24 * H + 10) * 1000, mid)).toBe(RENEW_RETRY.maxMs * 0.75);
  });

  it('knows when a credential has expired', () => {
    expect(isExpired({ issuedAtS: 0, expiresAtS: 10 }, 9_999)).toBe(false);
    expect(isExpired({ issuedAtS: 0, expiresAtS: 10 }, 10_000)).toBe(true);
    expect(isExpired({ issuedAtS: 0, expiresAtS: null }, 1e15)).toBe(false);
  });
});
