// Plain HTTPS to the API server for what client-node has no call for (the Table API).
import { request } from 'node:https';
import { parse } from 'yaml';
import type { KubeAccess } from '../env/index.ts';

export async function kubeGet(access: KubeAccess, path: string, accept = 'application/json'): Promise<{ status: number; body: unknown }> {
  const config = parse(access.kubeconfig) as { clusters: Array<{ cluster: { 'certificate-authority-data'?: string } }> };
  const caData = config.clusters[0]?.cluster['certificate-authority-data'];
  return new Promise((resolve, reject) => {
    const req = request(
      `${access.server}${path}`,
      { headers: { authorization: `Bearer ${access.token}`, accept }, ...(caData ? { ca: Buffer.from(caData, 'base64') } : { rejectUnauthorized: false }) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
