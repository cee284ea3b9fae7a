// Creates an EdgeNode when an agent first says hello, and merges the labels it proposes
// under the operator's: a label the operator set or changed is never overwritten.
import { API_VERSION, EN_KIND } from '@edgeplane/api';
import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import { NotLeaderError, WriteConflictError } from '../errors.ts';
import { isConflict, isNotFound } from './errors.ts';
import { crd, nodesKind } from './resources.ts';

/** Annotation recording the labels the agent proposed last time, to tell them from the operator's. */
export const AGENT_LABELS_ANNOTATION = 'edgeplane.io/agent-labels';

type NodeObject = KubernetesObject & { spec?: unknown; status?: unknown };

/**
 * Labels after a hello: an agent label is applied when the key is new, or when its current
 * value is still the one the agent proposed before (so the operator did not change it).
 */
export function mergeAgentLabels(
  current: Readonly<Record<string, string>>,
  previousAgent: Readonly<Record<string, string>>,
  proposed: Readonly<Record<string, string>>,
): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(proposed)) {
    if (!(k in current) || current[k] === previousAgent[k]) out[k] = v;
  }
  return out;
}

function agentLabelsOf(obj: NodeObject): Record<string, string> {
  try {
    const raw = obj.metadata?.annotations?.[AGENT_LABELS_ANNOTATION];
    return raw ? (JSON.parse(raw) as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export interface EnsureNodeOptions {
  custom: CustomObjectsApi;
  mayWrite?: () => boolean;
  onWrite?: (kind: string) => void;
}

/**
 * Creates or updates the EdgeNode's metadata; returns the stored object. `cached` (the informer's
 * copy, or null when it has none) replaces the first read: a new node costs one create, a known
 * one no call when nothing changed. A stale copy only costs a conflict, then a real read.
 */
export async function ensureEdgeNode(o: EnsureNodeOptions, name: string, proposed: Readonly<Record<string, string>>, cached?: NodeObject | null): Promise<NodeObject> {
  const guard = () => {
    if (o.mayWrite && !o.mayWrite()) throw new NotLeaderError(`write EdgeNode ${name}`);
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    let current: NodeObject | null = null;
    if (attempt === 0 && cached !== undefined) current = cached;
    else {
      try {
        current = (await o.custom.getClusterCustomObject({ ...crd, plural: nodesKind.plural, name })) as NodeObject;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (!current) {
      guard();
      try {
        const created = (await o.custom.createClusterCustomObject({
          ...crd,
          plural: nodesKind.plural,
          body: {
            apiVersion: API_VERSION,
            kind: EN_KIND,
            metadata: { name, labels: { ...proposed }, annotations: { [AGENT_LABELS_ANNOTATION]: JSON.stringify(proposed) } },
            spec: { unschedulable: false },
          },
        })) as NodeObject;
        o.onWrite?.('edgenodes');
        return created;
      } catch (err) {
        if (isConflict(err)) continue; // created meanwhile: read it and merge
        throw err;
      }
    }
    const labels = mergeAgentLabels(current.metadata?.labels ?? {}, agentLabelsOf(current), proposed);
    const annotation = JSON.stringify(proposed);
    const unchanged =
      JSON.stringify(labels) === JSON.stringify(current.metadata?.labels ?? {}) && current.metadata?.annotations?.[AGENT_LABELS_ANNOTATION] === annotation;
    if (unchanged) return current;
    guard();
    try {
      const updated = (await o.custom.replaceClusterCustomObject({
        ...crd,
        plural: nodesKind.plural,
        name,
        body: { ...current, metadata: { ...current.metadata, labels, annotations: { ...current.metadata?.annotations, [AGENT_LABELS_ANNOTATION]: annotation } } },
      })) as NodeObject;
      o.onWrite?.('edgenodes');
      return updated;
    } catch (err) {
      // Not found: the cached copy was of a node deleted since; read again and create it.
      if (!isConflict(err) && !(attempt === 0 && cached && isNotFound(err))) throw err;
    }
  }
  throw new WriteConflictError(`edgenodes/${name}`, 5);
}

/** The EdgeNode as stored, or null when there is none. */
export async function readEdgeNode(custom: CustomObjectsApi, name: string): Promise<NodeObject | null> {
  try {
    return (await custom.getClusterCustomObject({ ...crd, plural: nodesKind.plural, name })) as NodeObject;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Records a node's identity annotations: creates the EdgeNode when there is none, else
 * replaces the version read. On a conflict (a status write, a hello creating the node) it reads
 * again and retries only while `stillAsDecided` holds for what it reads, so a decision made on
 * one identity is never applied over another; then WriteConflictError.
 */
export async function writeNodeIdentity(
  o: EnsureNodeOptions,
  name: string,
  read: NodeObject | null,
  annotations: Readonly<Record<string, string>>,
  stillAsDecided: (current: NodeObject | null) => boolean,
): Promise<NodeObject> {
  let current = read;
  let attempts = 0;
  while (attempts++ < 3) {
    if (o.mayWrite && !o.mayWrite()) throw new NotLeaderError(`write EdgeNode ${name}`);
    try {
      const written = current
        ? ((await o.custom.replaceClusterCustomObject({
            ...crd,
            plural: nodesKind.plural,
            name,
            body: { ...current, metadata: { ...current.metadata, annotations: { ...current.metadata?.annotations, ...annotations } } },
          })) as NodeObject)
        : ((await o.custom.createClusterCustomObject({
            ...crd,
            plural: nodesKind.plural,
            body: { apiVersion: API_VERSION, kind: EN_KIND, metadata: { name, annotations: { ...annotations } }, spec: { unschedulable: false } },
          })) as NodeObject);
      o.onWrite?.('edgenodes');
      return written;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    current = await readEdgeNode(o.custom, name);
    if (!stillAsDecided(current)) break;
  }
  throw new WriteConflictError(`edgenodes/${name}`, attempts);
}
