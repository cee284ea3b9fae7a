// Where each custom resource lives in the API, and how a raw object becomes a typed one.
import { EMD_PLURAL, EN_PLURAL, EdgeModelDeployment, EdgeNode, GROUP, VERSION } from '@edgeplane/api';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { z } from 'zod';

export interface ResourceKind<T> {
  plural: string;
  namespaced: boolean;
  schema: z.ZodType<T>;
}

export const deploymentsKind: ResourceKind<EdgeModelDeployment> = { plural: EMD_PLURAL, namespaced: true, schema: EdgeModelDeployment };
export const nodesKind: ResourceKind<EdgeNode> = { plural: EN_PLURAL, namespaced: false, schema: EdgeNode };

export const crd = { group: GROUP, version: VERSION } as const;

/** `<namespace>/<name>` for namespaced objects, `<name>` for cluster-scoped ones. */
export function keyOf(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function watchPath(kind: ResourceKind<unknown>, namespace?: string): string {
  return namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${kind.plural}`
    : `/apis/${GROUP}/${VERSION}/${kind.plural}`;
}
