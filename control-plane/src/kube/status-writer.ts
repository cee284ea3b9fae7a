// Writes the status subresource with optimistic concurrency: a replace carrying the
// resourceVersion the status was computed from; on a conflict, re-read and re-apply.
import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NotLeaderError, WriteConflictError } from '../errors.ts';
import { isConflict, isNotFound } from './errors.ts';
import { crd, type ResourceKind } from './resources.ts';

export interface ObjectRef {
  kind: ResourceKind<unknown>;
  namespace?: string | undefined;
  name: string;
}

/** Computes the status to write from the object as stored; null means nothing to write. */
export type StatusFn = (current: KubernetesObject & { status?: unknown }) => object | null;

export interface StatusWriterOptions {
  custom: CustomObjectsApi;
  log: Logger;
  maxAttempts?: number;
  /** Checked before every request, so a replica that lost the lease stops writing. */
  mayWrite?: () => boolean;
  onWrite?: (kind: string) => void;
}

export function refName(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind.plural}/${ref.namespace}/${ref.name}` : `${ref.kind.plural}/${ref.name}`;
}

export class StatusWriter {
  readonly #o: StatusWriterOptions;

  constructor(options: StatusWriterOptions) {
    this.#o = options;
  }

  async get(ref: ObjectRef): Promise<(KubernetesObject & { status?: unknown }) | null> {
    const { custom } = this.#o;
    try {
      return (await (ref.namespace
        ? custom.getNamespacedCustomObject({ ...crd, namespace: ref.namespace, plural: ref.kind.plural, name: ref.name })
        : custom.getClusterCustomObject({ ...crd, plural: ref.kind.plural, name: ref.name }))) as KubernetesObject;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Writes `status(current)` over `current` (the cached copy, when given). Returns the stored
   * object, or null when the object is gone or there was nothing to write.
   */
  async write(ref: ObjectRef, status: StatusFn, current?: KubernetesObject & { status?: unknown }): Promise<KubernetesObject | null> {
    const attempts = this.#o.maxAttempts ?? 5;
    let obj = current ?? (await this.get(ref));
    for (let i = 0; i < attempts && obj; i++) {
      const next = status(obj);
      if (next === null) return null;
      if (this.#o.mayWrite && !this.#o.mayWrite()) throw new NotLeaderError(`write status of ${refName(ref)}`);
      try {
        const stored = await this.#replace(ref, { ...obj, status: next } as KubernetesObject);
        this.#o.onWrite?.(`${ref.kind.plural}/status`);
        return stored;
      } catch (err) {
        if (isNotFound(err)) return null;
        if (!isConflict(err)) throw err;
        this.#o.log.debug({ resource: refName(ref), attempt: i + 1 }, 'status conflict; re-reading');
        obj = await this.get(ref);
      }
    }
    if (!obj) return null;
    throw new WriteConflictError(`${refName(ref)}/status`, attempts);
  }

  #replace(ref: ObjectRef, body: KubernetesObject): Promise<KubernetesObject> {
    const { custom } = this.#o;
    return (ref.namespace
      ? custom.replaceNamespacedCustomObjectStatus({ ...crd, namespace: ref.namespace, plural: ref.kind.plural, name: ref.name, body })
      : custom.replaceClusterCustomObjectStatus({ ...crd, plural: ref.kind.plural, name: ref.name, body })) as Promise<KubernetesObject>;
  }
}
