// Installs the CRDs under crds/ and waits until the API server reports them Established.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiException, ApiextensionsV1Api, KubeConfig, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import type { KubeAccess } from './kube.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const crdDir = join(repoRoot, 'crds');

export function kubeConfig(access: Pick<KubeAccess, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(access.kubeconfig);
  return kc;
}

export function readCrds(dir = crdDir): V1CustomResourceDefinition[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    // loadYaml maps `x-kubernetes-*` keys onto the model's fields; a plain YAML parse would
    // have the client's serializer drop them (CEL rules, int-or-string) without a word.
    .map((f) => loadYaml<V1CustomResourceDefinition>(readFileSync(join(dir, f), 'utf8')));
}

/** Creates or replaces each CRD, then waits for Established (and NamesAccepted). */
export async function installCrds(access: Pick<KubeAccess, 'kubeconfig'>, timeoutMs = 30_000): Promise<string[]> {
  const api = kubeConfig(access).makeApiClient(ApiextensionsV1Api);
  const names: string[] = [];
  for (const crd of readCrds()) {
    const name = crd.metadata?.name ?? '';
    names.push(name);
    try {
      await api.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (!(err instanceof ApiException) || err.code !== 409) throw err;
      const current = await api.readCustomResourceDefinition({ name });
      await api.replaceCustomResourceDefinition({ name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } } });
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      if (established) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return names;
}
