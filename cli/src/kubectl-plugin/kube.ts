// The plugin's Kubernetes access: the kubeconfig kubectl uses (KUBECONFIG, ~/.kube/config, or
// in-cluster), its current namespace, and the few reads and writes the subcommands need.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
} from '@kubernetes/client-node';
import { EMD_PLURAL, EN_PLURAL, GROUP, VERSION, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { PluginError } from './errors.ts';
import { statusMessage } from '../kube-message.ts';

export interface Kube {
  /** The current context's namespace, else `default`. */
  namespace: string;
  listNodes(): Promise<EdgeNode[]>;
  getNode(name: string): Promise<EdgeNode>;
  /** Every namespace when `namespace` is undefined. */
  listDeployments(namespace: string | undefined): Promise<EdgeModelDeployment[]>;
  getDeployment(namespace: string, name: string): Promise<EdgeModelDeployment>;
  setUnschedulable(name: string, unschedulable: boolean): Promise<EdgeNode>;
  /** Events about one object (core/v1 view, which includes events.k8s.io ones), oldest first. */
  eventsFor(kind: string, name: string): Promise<CoreV1Event[]>;
}

/** A Kubernetes refusal in one line: the action, the status and the server's message. */
export function kubeFailure(action: string, err: unknown): PluginError {
  if (err instanceof ApiException) {
    const message = statusMessage(err);
    return new PluginError(err.code === 404 ? 'NOT_FOUND' : 'KUBE', `${action}: ${message ?? `HTTP ${err.code}`}`, { cause: err });
  }
  return new PluginError('KUBE', `${action}: ${(err as Error).message}`, { cause: err });
}

async function attempt<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw kubeFailure(action, err);
  }
}

export function connect(): Kube {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (cause) {
    throw new PluginError('KUBE', `cannot load the Kubernetes configuration: ${(cause as Error).message}`, { cause });
  }
  if (!kc.getCurrentCluster()) throw new PluginError('KUBE', 'no current cluster in the Kubernetes configuration (set KUBECONFIG)');
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const en = { group: GROUP, version: VERSION, plural: EN_PLURAL };
  const emd = { group: GROUP, version: VERSION, plural: EMD_PLURAL };
  return {
    namespace,
    listNodes: () => attempt('list edgenodes', async () => ((await custom.listClusterCustomObject(en)) as { items: EdgeNode[] }).items),
    getNode: (name) => attempt(`get edgenode ${name}`, async () => (await custom.getClusterCustomObject({ ...en, name })) as EdgeNode),
    listDeployments: (ns) =>
      attempt('list edgemodeldeployments', async () => {
        const res = ns === undefined ? await custom.listClusterCustomObject(emd) : await custom.listNamespacedCustomObject({ ...emd, namespace: ns });
        return (res as { items: EdgeModelDeployment[] }).items;
      }),
    getDeployment: (ns, name) =>
      attempt(`get edgemodeldeployment ${ns}/${name}`, async () => (await custom.getNamespacedCustomObject({ ...emd, namespace: ns, name })) as EdgeModelDeployment),
    setUnschedulable: (name, unschedulable) =>
      attempt(`patch edgenode ${name}`, async () =>
        (await custom.patchClusterCustomObject({ ...en, name, body: { spec: { unschedulable } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as EdgeNode,
      ),
    eventsFor: (kind, name) =>
      attempt(`list events of ${name}`, async () => {
        const res = await core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
        const when = (e: CoreV1Event) => Date.parse(String(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0));
        return res.items.sort((a, b) => when(a) - when(b));
      }),
  };
}
