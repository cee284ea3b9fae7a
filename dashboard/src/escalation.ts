// How the deployment view words joint inference (status.escalation). Pure, so the wording and
// the rounding are unit-tested without a browser.
import type { DashEscalation } from '../../api/src/dashboard.ts';

const count = (n: number): string => n.toLocaleString('en-US');

/** A share in percent: one decimal below 10 %, none above; `—` when unknown. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  return `${p > 0 && p < 10 ? p.toFixed(1) : p.toFixed(0)} %`;
}

/** Bytes in SI units (kB, MB, GB), one decimal under 100. */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

export interface EscalationFact {
  /** Stable key, also the row's data-testid suffix. */
  key: 'available' | 'escalated' | 'changed' | 'failed' | 'kept' | 'uplink';
  label: string;
  value: string;
}

/** The facts the view lists under the escalation tier's name, in order. */
export function escalationFacts(e: DashEscalation): EscalationFact[] {
  return [
    { key: 'available', label: 'Available', value: e.available ? 'yes' : e.unavailable ? `no: ${e.unavailable.reason}` : 'no' },
    { key: 'escalated', label: 'Escalated', value: `${percent(e.ratio ?? (e.requests > 0 ? e.escalated / e.requests : undefined))} (${count(e.escalated)} of ${count(e.requests)} requests)` },
    { key: 'changed', label: 'Answers changed', value: `${count(e.answersChanged)}${e.escalated > 0 ? ` (${percent(e.answersChanged / e.escalated)} of escalated)` : ''}` },
    { key: 'failed', label: 'Failed (edge answer kept)', value: count(e.failed) },
    { key: 'kept', label: 'Kept on the node (budget or link)', value: count(e.budgetDenied) },
    { key: 'uplink', label: 'Uplink', value: bytes(e.uplinkBytes) },
  ];
}
