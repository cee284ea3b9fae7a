import { describe, expect, it } from 'vitest';
import type { DashEscalation } from '../../api/src/dashboard.ts';
import { bytes, escalationFacts, percent } from './escalation.ts';

const status = (extra: Partial<DashEscalation> = {}): DashEscalation => ({
  deployment: 'ocr-line-server',
  available: true,
  requests: 48_210,
  escalated: 3_905,
  ratio: 0.081,
  answersChanged: 612,
  failed: 14,
  budgetDenied: 230,
  uplinkBytes: 187_400_000,
  unavailable: null,
  ...extra,
});

describe('percent and bytes', () => {
  it('round as the view shows them', () => {
    expect(percent(0.081)).toBe('8.1 %');
    expect(percent(0.25)).toBe('25 %');
    expect(percent(0)).toBe('0 %');
    expect(percent(1)).toBe('100 %');
    expect(percent(undefined)).toBe('—');
    expect(percent(Number.NaN)).toBe('—');
    expect(bytes(999)).toBe('999 B');
    expect(bytes(1500)).toBe('1.5 kB');
    expect(bytes(187_400_000)).toBe('187 MB');
    expect(bytes(2_345_000_000)).toBe('2.3 GB');
  });
});

describe('escalationFacts', () => {
  it('lists availability, the share escalated, answers changed, failures and the uplink', () => {
    const facts = Object.fromEntries(escalationFacts(status()).map((f) => [f.key, f.value]));
    expect(facts).toEqual({
      available: 'yes',
      escalated: '8.1 % (3,905 of 48,210 requests)',
      changed: '612 (16 % of escalated)',
      failed: '14',
      kept: '230',
      uplink: '187 MB',
    });
  });

  it('names the condition\'s reason when the tier is unavailable, and copes before the first request', () => {
    const { ratio: _ratio, ...withoutRatio } = status();
    const facts = Object.fromEntries(
      escalationFacts({ ...withoutRatio, available: false, requests: 0, escalated: 0, answersChanged: 0, failed: 0, budgetDenied: 0, uplinkBytes: 0, unavailable: { reason: 'NoReadyReplica', message: 'ocr-line-server has no Ready replica' } })
        .map((f) => [f.key, f.value]),
    );
    expect(facts.available).toBe('no: NoReadyReplica');
    expect(facts.escalated).toBe('— (0 of 0 requests)');
    expect(facts.changed).toBe('0');
    expect(facts.uplink).toBe('0 B');
    // No ratio from the server yet: computed from the counters.
    expect(escalationFacts(withoutRatio).find((f) => f.key === 'escalated')?.value).toBe('8.1 % (3,905 of 48,210 requests)');
  });
});
