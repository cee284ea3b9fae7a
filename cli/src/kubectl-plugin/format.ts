// Output as kubectl prints it: aligned columns with upper-case headers, ages such as 5m or 3d,
// and `-o json|yaml` of the same data.
import { stringify } from 'yaml';

export const OUTPUTS = ['table', 'wide', 'json', 'yaml'] as const;
export type Output = (typeof OUTPUTS)[number];

/** Columns separated by three spaces, as kubectl's tabwriter does; a missing cell prints `<none>`. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | undefined>>): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === '' ? '<none>' : r[i]!)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** kubectl's short age: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, nowMs = Date.now()): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((nowMs - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function structured(value: unknown, output: 'json' | 'yaml'): string {
  return output === 'json' ? `${JSON.stringify(value, null, 4)}\n` : stringify(value, { lineWidth: 0 });
}

/** A Kubernetes List of the objects, as `kubectl get -o json` prints several. */
export function list(items: readonly unknown[]): { apiVersion: 'v1'; kind: 'List'; items: readonly unknown[]; metadata: { resourceVersion: '' } } {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

export function ms(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `${Number(value.toFixed(1))}ms`;
}

export function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}
