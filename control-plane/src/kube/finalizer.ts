// The finalizer the leader keeps on every EdgeModelDeployment, so that deleting one waits
// until its workloads are gone from every node's KV entry: without it, a delete that happened
// while no leader acted (or whose KV write failed) left the workloads running with nothing
// left to say they should not.
import { EMD_PLURAL, type EdgeModelDeployment } from '@edgeplane/api';
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import { NotLeaderError } from '../errors.ts';
import { isNotFound } from './errors.ts';
import { crd } from './resources.ts';

export const ASSIGNMENTS_FINALIZER = 'edgeplane.io/assignments';

export function hasFinalizer(emd: EdgeModelDeployment): boolean {
  return emd.metadata.finalizers?.includes(ASSIGNMENTS_FINALIZER) ?? false;
}

export interface DeploymentFinalizerOptions {
  custom: CustomObjectsApi;
  mayWrite: () => boolean;
  onWrite?: (resource: string) => void;
}

export class DeploymentFinalizer {
  readonly #o: DeploymentFinalizerOptions;

  constructor(options: DeploymentFinalizerOptions) {
    this.#o = options;
  }

  add(emd: EdgeModelDeployment): Promise<void> {
    if (hasFinalizer(emd)) return Promise.resolve();
    return this.#set(emd, [...(emd.metadata.finalizers ?? []), ASSIGNMENTS_FINALIZER]);
  }

  remove(emd: EdgeModelDeployment): Promise<void> {
    if (!hasFinalizer(emd)) return Promise.resolve();
    return this.#set(
      emd,
      (emd.metadata.finalizers ?? []).filter((f) => f !== ASSIGNMENTS_FINALIZER),
    );
  }

  /**
   * A merge patch of the whole list with the cached resourceVersion: a list someone changed
   * meanwhile is refused (409) rather than overwritten, and the queue retries with a fresh copy.
   */
  async #set(emd: EdgeModelDeployment, finalizers: string[]): Promise<void> {
    const { namespace = 'default', name = '', resourceVersion } = emd.metadata;
    if (!this.#o.mayWrite()) throw new NotLeaderError(`set finalizers of ${namespace}/${name}`);
    try {
      await this.#o.custom.patchNamespacedCustomObject(
        { ...crd, namespace, plural: EMD_PLURAL, name, body: { metadata: { finalizers, ...(resourceVersion ? { resourceVersion } : {}) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      this.#o.onWrite?.(EMD_PLURAL);
    } catch (err) {
      // Gone already: nothing holds it any more.
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
