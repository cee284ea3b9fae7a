// Prints resources the way `kubectl get` does, from the API server's Table API, so that the
// printer columns in the CRDs are what a person sees.
import { request } from 'node:https';
import { parse } from 'yaml';
import type { KubeAccess } from './kube.ts';

interface Table {
  columnDefinitions: Array<{ name: string; priority?: number }>;
  rows: Array<{ cells: unknown[]; object?: { metadata?: { namespace?: string } } }>;
}

export function getTable(access: KubeAccess, path: string): Promise<Table> {
  const config = parse(access.kubeconfig) as { clusters: Array<{ cluster: { 'certificate-authority-data'?: string } }> };
  const caData = config.clusters[0]?.cluster['certificate-authority-data'];
  return new Promise((resolve, reject) => {
    const req = request(
      `${access.server}${path}`,
      {
        headers: { authorization: `Bearer ${access.token}`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
        ...(caData ? { ca: Buffer.from(caData, 'base64') } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${text}`));
          resolve(JSON.parse(text) as Table);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
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
