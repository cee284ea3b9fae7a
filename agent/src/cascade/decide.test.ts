import type { EscalationRule } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { decide, fullBucket, isHard, refill, type BucketState, type BudgetLimits, type LinkCost } from './decide.ts';
import { BudgetError } from './errors.ts';

const defaultLimits: BudgetLimits = { requestsPerSecond: 2, bytesPerSecond: 100_000, meteredFactor: 0.1 };
const limits = defaultLimits;
const hard = { confidence: 0.5, margin: 0.1, entropy: 0.6 };
const easy = { confidence: 0.99, margin: 0.95, entropy: 0.01 };
const rule: EscalationRule = { kind: 'confidenceBelow', threshold: 0.8 };

/** Hard inputs of `bytes` every `everyMs` for `forMs`: how many went up. */
function run(link: LinkCost, bytes: number, everyMs: number, forMs: number, limits: BudgetLimits = defaultLimits): number {
  let bucket: BucketState = fullBucket(limits, link, 0);
  let sent = 0;
  for (let t = 0; t < forMs; t += everyMs) {
    const d = decide(rule, hard, { bytes, nowMs: t, link, limits, bucket });
    bucket = d.bucket;
    if (d.escalate) sent++;
  }
  return sent;
}

describe('isHard', () => {
  it.each([
    [{ kind: 'confidenceBelow', threshold: 0.8 }, hard, true],
    [{ kind: 'confidenceBelow', threshold: 0.8 }, easy, false],
    [{ kind: 'marginBelow', threshold: 0.2 }, hard, true],
    [{ kind: 'marginBelow', threshold: 0.2 }, easy, false],
    [{ kind: 'entropyAbove', threshold: 0.3 }, hard, true],
    [{ kind: 'entropyAbove', threshold: 0.3 }, easy, false],
  ] as const)('%j on %j is %s', (r, s, want) => {
    expect(isHard(r, s)).toBe(want);
  });

  it('a score exactly at the threshold is not hard', () => {
    expect(isHard({ kind: 'confidenceBelow', threshold: 0.5 }, hard)).toBe(false);
    expect(isHard({ kind: 'entropyAbove', threshold: 0.6 }, hard)).toBe(false);
  });
});

describe('decide', () => {
  it('an easy input stays at the edge and spends nothing', () => {
    const bucket = fullBucket(limits, 'unmetered', 0);
    const d = decide(rule, easy, { bytes: 1000, nowMs: 0, link: 'unmetered', limits, bucket });
    expect(d).toEqual({ hard: false, escalate: false, reason: 'Confident', bucket });
  });

  it('a hard input escalates and spends one request and its bytes', () => {
    const d = decide(rule, hard, { bytes: 1000, nowMs: 0, link: 'unmetered', limits, bucket: fullBucket(limits, 'unmetered', 0) });
    expect(d.escalate).toBe(true);
    expect(d.reason).toBe('Escalated');
    expect(d.bucket).toEqual({ requests: 1, bytes: 99_000, atMs: 0 });
  });

  it('holds the request rate over time: 2/s for 10 s plus the burst', () => {
    // Small inputs every 10 ms: the request bucket binds.
    expect(run('unmetered', 100, 10, 10_000)).toBe(2 + 2 * 10 - 1);
  });

  it('holds the byte rate: 100 kB/s with 30 kB inputs sends about 3.3 per second', () => {
    // Requests are plentiful here: the byte bucket binds.
    const sent = run('unmetered', 30_000, 10, 10_000, { ...limits, requestsPerSecond: 50 });
    expect(sent * 30_000).toBeLessThanOrEqual(100_000 * 11);
    expect(sent * 30_000).toBeGreaterThanOrEqual(100_000 * 9);
  });

  it('is ten times tighter on a metered link', () => {
    const unmetered = run('unmetered', 100, 10, 20_000);
    const metered = run('metered', 100, 10, 20_000);
    // 0.2/s for 20 s, one burst of at least one request.
    expect(metered).toBe(1 + 4 - 1);
    expect(metered).toBeLessThan(unmetered / 5);
  });

  it('an input larger than a burst of bytes goes once the bucket is full, and the debt holds the long-run rate', () => {
    // 250 kB inputs against 100 kB/s: one every 2.5 s.
    const sent = run('unmetered', 250_000, 100, 10_000, { ...limits, requestsPerSecond: 50 });
    expect(sent).toBeGreaterThanOrEqual(4);
    expect(sent).toBeLessThanOrEqual(5);
  });

  it('never escalates offline, nor on a metered link with factor 0', () => {
    expect(run('offline', 100, 10, 5000)).toBe(0);
    const d = decide(rule, hard, { bytes: 1, nowMs: 0, link: 'offline', limits, bucket: { requests: 5, bytes: 1e6, atMs: 0 } });
    expect(d).toMatchObject({ hard: true, escalate: false, reason: 'Offline' });
    const noMetered = { ...limits, meteredFactor: 0 };
    const m = decide(rule, hard, { bytes: 1, nowMs: 1000, link: 'metered', limits: noMetered, bucket: fullBucket(noMetered, 'metered', 0) });
    expect(m).toMatchObject({ hard: true, escalate: false, reason: 'BudgetExhausted' });
  });

  it('a bucket filled on an unmetered link is capped at the metered burst when the link becomes metered', () => {
    const b = refill(fullBucket(limits, 'unmetered', 0), limits, 'metered', 10);
    expect(b.requests).toBe(1);
    expect(b.bytes).toBe(10_000);
  });

  it('a clock that steps back adds no tokens', () => {
    const b = refill({ requests: 0, bytes: 0, atMs: 5000 }, limits, 'unmetered', 1000);
    expect(b).toEqual({ requests: 0, bytes: 0, atMs: 5000 });
  });

  it('refuses a negative input size or budget, naming the field', () => {
    const bucket = fullBucket(limits, 'unmetered', 0);
    expect(() => decide(rule, hard, { bytes: -1, nowMs: 0, link: 'unmetered', limits, bucket })).toThrow(BudgetError);
    expect(() => fullBucket({ ...limits, bytesPerSecond: -5 }, 'unmetered', 0)).toThrow(/budget.bytesPerSecond/);
    expect(() => fullBucket({ ...limits, meteredFactor: 2 }, 'metered', 0)).toThrow(/budget.meteredFactor must be at most 1/);
  });
});
