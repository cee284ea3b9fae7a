// Applies EdgeModelDeployment manifests (create, or replace the spec when present).
import { readFileSync } from 'node:fs';
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { EMD_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { parseAllDocuments } from 'yaml';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name?: string | undefined; namespace?: string | undefined };
  spec?: unknown;
}

export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } })
    .catch((err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    });
}

/** Creates the deployment, or replaces its spec when it exists; any other refusal is thrown. */
export async function applyDeployment(kc: KubeConfig, body: Manifest): Promise<void> {
  const name = body.metadata.name;
  if (!name) throw new Error(`a ${body.kind} needs metadata.name`);
  const namespace = body.metadata.namespace ?? 'default';
  await ensureNamespace(kc, namespace);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: GROUP, version: VERSION, namespace, plural: EMD_PLURAL };
  try {
    await custom.createNamespacedCustomObject({ ...ref, body });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
    const current = (await custom.getNamespacedCustomObject({ ...ref, name })) as Manifest;
    await custom.replaceNamespacedCustomObject({ ...ref, name, body: { ...current, spec: body.spec } });
  }
}

export async function applyDeploymentFile(kc: KubeConfig, file: string): Promise<Manifest[]> {
  const applied: Manifest[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const body = doc.toJS() as Manifest | null;
    if (!body) continue;
    await applyDeployment(kc, body);
    applied.push(body);
  }
  return applied;
}
