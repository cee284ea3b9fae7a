// Plain HTTPS to the API server, for what a typed client cannot do: send the exact JSON a
// manifest holds (a client's model would drop a misspelt field instead of letting the server
// refuse it), or ask for a representation such as the Table kubectl prints.
import { request } from 'node:https';
import { parse } from 'yaml';
import type { KubeAccess } from './kube.ts';

export interface KubeResponse {
  status: number;
  body: unknown;
  warnings: string[];
}

export function kubeRequest(access: KubeAccess, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<KubeResponse> {
  const config = parse(access.kubeconfig) as { clusters: { cluster: { 'certificate-authority-data'?: string } }[] };
  const caData = config.clusters[0]?.cluster['certificate-authority-data'];
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${access.server}${path}`,
      {
        method,
        timeout: 20_000,
        headers: {
          authorization: `Bearer ${access.token}`,
          accept,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
        ...(caData ? { ca: Buffer.from(caData, 'base64') } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const warning = res.headers.warning;
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as unknown) : null,
            warnings: warning === undefined ? [] : Array.isArray(warning) ? warning : [warning],
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 20 s`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export function message(res: KubeResponse): string {
  return (res.body as { message?: string } | null)?.message ?? '';
}
