import { describe, expect, it } from 'vitest';
import type { ModelVariant, VariantFailure, WorkloadReport } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { activeFailures, backoffMs, trackFailures, type FailureInput } from './failures.ts';

const t0 = Date.parse('2030-01-01T00:00:00Z');
const backoff = { initialMs: 1000, maxMs: 8000 };
const variant = (name: string, sha: string): ModelVariant =>
  ({ name, precision: 'int8', profile: 'full', uri: `nats-obj://ep-models/${name}`, sha256: sha.repeat(64), sizeBytes: 10, accuracy: 0.9, gflops: 1, memoryMiB: 10 }) as ModelVariant;
const variants = [variant('v8', 'a'), variant('v16', 'b')];
const placed = (node: string, v: string, sinceMs = t0): Placement => ({
  deployment: 'ns/d',
  node,
  accelerator: 'cpu0',
  variant: v,
  precision: 'int8',
  profile: 'full',
  cap: 'fp32',
  predictedP99Ms: 1,
  tierReason: '',
  sinceMs,
});
const report = (over: Partial<WorkloadReport>): WorkloadReport => ({ key: 'ns/d', variant: 'v8', accelerator: 'cpu0', phase: 'Failed', reason: 'DigestMismatch', message: 'digest mismatch', ...over });
const input = (over: Partial<FailureInput>): FailureInput => ({ key: 'ns/d', variants, current: [placed('n1', 'v8')], reports: () => [report({})], known: [], backoff, nowMs: t0, ...over });

describe('backoffMs', () => {
  it('doubles per failure in a row up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffMs(n, backoff))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });
});

describe('trackFailures', () => {
  it('records a Failed report as a fresh failure, excludes the pair and says when to look again', () => {
    const r = trackFailures(input({}));
    expect(r.fresh).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ node: 'n1', variant: 'v8', sha256: 'a'.repeat(64), reason: 'DigestMismatch', count: 1, retryAfter: new Date(t0 + 1000).toISOString() });
    expect(r.excluded.get('n1')).toEqual(new Set(['v8']));
    expect(r.nextRetryMs).toBe(1000);
  });

  it('records a failed switch while the previous variant keeps serving', () => {
    const r = trackFailures(input({ current: [placed('n1', 'v16')], reports: () => [report({ variant: 'v8', phase: 'Ready', failedVariant: 'v16', reason: 'SignatureInvalid' })] }));
    expect(r.failures.map((f) => `${f.variant}:${f.reason}`)).toEqual(['v16:SignatureInvalid']);
  });

  it('does not count the same failure again while it backs off, nor a report left from before the retry', () => {
    const first = trackFailures(input({}));
    const again = trackFailures(input({ known: first.failures, nowMs: t0 + 500 }));
    expect(again.fresh).toEqual([]);
    expect(again.failures[0]!.count).toBe(1);
    // Backoff over, but the placement has not taken v8 again since: the report is old news.
    const stale = trackFailures(input({ known: first.failures, nowMs: t0 + 1500, current: [placed('n1', 'v8', t0)] }));
    expect(stale.fresh).toEqual([]);
    expect(stale.excluded.size).toBe(0);
  });

  it('doubles the wait when a retry after the backoff fails again', () => {
    const first = trackFailures(input({}));
    const retried = trackFailures(input({ known: first.failures, nowMs: t0 + 3000, current: [placed('n1', 'v8', t0 + 1200)] }));
    expect(retried.fresh).toHaveLength(1);
    expect(retried.failures[0]).toMatchObject({ count: 2, retryAfter: new Date(t0 + 3000 + 2000).toISOString() });
  });

  it('forgets a pair once the variant runs there, or once the variant has a new artifact', () => {
    const first = trackFailures(input({}));
    const ready = trackFailures(input({ known: first.failures, nowMs: t0 + 5000, reports: () => [report({ phase: 'Ready', reason: undefined })] }));
    expect(ready.failures).toEqual([]);
    const fixed = trackFailures(input({ known: first.failures, variants: [variant('v8', 'c'), variants[1]!], reports: () => [] }));
    expect(fixed.failures).toEqual([]);
  });

  it('keeps what a previous leader wrote to status (the newer record of a pair wins)', () => {
    const older: VariantFailure = { node: 'n1', variant: 'v8', sha256: 'a'.repeat(64), reason: 'LoadFailed', count: 1, lastFailureTime: new Date(t0 - 9000).toISOString(), retryAfter: new Date(t0 - 8000).toISOString() };
    const newer: VariantFailure = { ...older, count: 3, lastFailureTime: new Date(t0 - 1000).toISOString(), retryAfter: new Date(t0 + 3000).toISOString() };
    const r = trackFailures(input({ known: [older, newer], reports: () => [] }));
    expect(r.failures).toEqual([newer]);
    expect(r.excluded.get('n1')).toEqual(new Set(['v8']));
    expect(activeFailures(r.failures, t0 + 3000)).toEqual([]);
  });

  it('ignores other deployments and nodes without this deployment', () => {
    const r = trackFailures(input({ reports: (n) => (n === 'n1' ? [report({ key: 'ns/other' })] : [report({})]) }));
    expect(r.failures).toEqual([]);
  });
});
