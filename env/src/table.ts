// Prints resources the way `kubectl get` does, from the API server's Table API, so that the
// printer columns in the CRDs are what a person sees.
import type { KubeAccess } from './kube.ts';
import { kubeRequest, message } from './kube-http.ts';

/** The Accept header that asks for the Table kubectl prints. */
export const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';

interface Table {
  columnDefinitions: Array<{ name: string; priority?: number }>;
  rows: Array<{ cells: unknown[]; object?: { metadata?: { namespace?: string } } }>;
}

export async function getTable(access: KubeAccess, path: string): Promise<Table> {
  const res = await kubeRequest(access, 'GET', path, undefined, TABLE);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${message(res)}`);
  return res.body as Table;
}

/** Formats a Table as kubectl does: upper-case headers, padded columns, NAMESPACE first when asked. */
export function formatTable(table: Table, withNamespace: boolean): string {
  const cols = table.columnDefinitions.map((c, i) => ({ ...c, i })).filter((c) => !c.priority);
  const header = [...(withNamespace ? ['NAMESPACE'] : []), ...cols.map((c) => c.name.toUpperCase())];
  const rows = table.rows.map((r) => [
    ...(withNamespace ? [r.object?.metadata?.namespace ?? ''] : []),
    ...cols.map((c) => {
      const v = r.cells[c.i];
      // Date columns arrive already formatted as an age ("5s", "3m").
      return v === undefined || v === null || v === '' ? '<none>' : String(v);
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]! + 3)).join('').trimEnd()).join('\n');
}
