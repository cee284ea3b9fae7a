// Plain HTTPS to the test API server. Rendered manifests go out as the exact JSON helm
// produced, with fieldValidation=Strict, so a misspelt field is refused rather than dropped
// by a client library's typed model.
import { request } from 'node:https';
import { parse } from 'yaml';
import type { KubeAccess } from '../env/index.ts';
import type { K8sObject } from './helm.ts';

export interface KubeResponse {
  status: number;
  body: unknown;
  warnings: string[];
}

export function kubeRequest(access: KubeAccess, method: string, path: string, body?: unknown): Promise<KubeResponse> {
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
          accept: 'application/json',
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

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

const discovery = new Map<string, ApiResourceList>();

/** The collection path of an object's kind, from the API server's discovery documents. */
export async function collectionPath(access: KubeAccess, obj: Pick<K8sObject, 'apiVersion' | 'kind'>, namespace: string): Promise<string> {
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  let list = discovery.get(base);
  if (!list) {
    const res = await kubeRequest(access, 'GET', base);
    if (res.status !== 200) throw new Error(`discovery of ${base}: HTTP ${res.status}`);
    list = res.body as ApiResourceList;
    discovery.set(base, list);
  }
  const resource = list.resources.find((r) => r.kind === obj.kind && !r.name.includes('/'));
  if (!resource) throw new Error(`the API server does not serve ${obj.kind} in ${obj.apiVersion}`);
  return resource.namespaced ? `${base}/namespaces/${namespace}/${resource.name}` : `${base}/${resource.name}`;
}

/** Server-side dry-run create: admission, defaulting, schema and strict field validation, nothing stored. */
export async function dryRunCreate(access: KubeAccess, obj: K8sObject, defaultNamespace: string): Promise<KubeResponse> {
  const path = await collectionPath(access, obj, obj.metadata.namespace ?? defaultNamespace);
  return kubeRequest(access, 'POST', `${path}?dryRun=All&fieldValidation=Strict`, obj);
}

/** Creates a namespace with labels, or leaves an existing one as it is. */
export async function ensureNamespace(access: KubeAccess, name: string, labels: Record<string, string> = {}): Promise<void> {
  const res = await kubeRequest(access, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`namespace ${name}: HTTP ${res.status} ${message(res)}`);
}

export function message(res: KubeResponse): string {
  return (res.body as { message?: string } | null)?.message ?? '';
}
