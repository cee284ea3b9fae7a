// What the informer keeps of a raw object once it is parsed. client-node's ListWatch holds every
// object it listed or watched, only to tell an add from an update (name, namespace and
// resourceVersion) and to name the deleted ones on a relist; the typed cache holds the parsed
// copy, so the raw one is cut down to those three fields in place. managedFields (the server-side
// apply bookkeeping, often larger than the object's own fields) is read by nothing here.
import type { KubernetesObject } from '@kubernetes/client-node';

/** Removes metadata.managedFields, which no part of the control plane reads. */
export function dropManagedFields(raw: KubernetesObject): void {
  if (raw.metadata && 'managedFields' in raw.metadata) delete raw.metadata.managedFields;
}

/** Cuts a raw object down, in place, to what ListWatch compares: kind, name, namespace, resourceVersion. */
export function skeletonize(raw: KubernetesObject): void {
  const meta = raw.metadata;
  for (const key of Object.keys(raw)) if (key !== 'metadata' && key !== 'kind' && key !== 'apiVersion') delete (raw as Record<string, unknown>)[key];
  if (!meta) return;
  for (const key of Object.keys(meta)) if (key !== 'name' && key !== 'namespace' && key !== 'resourceVersion') delete (meta as Record<string, unknown>)[key];
}
