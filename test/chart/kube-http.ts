// The chart checks' view of the API server: discovery, dry-run creates and namespaces over the
// plain HTTPS of @edgeplane/env's kubeRequest.
import type { KubeAccess } from '@edgeplane/env';
import { kubeRequest, kubeMessage as message, type KubeResponse } from '@edgeplane/env';
import type { K8sObject } from './helm.ts';

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
