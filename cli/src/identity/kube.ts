// Kubernetes access for the edgeplane command, found as kubectl finds it: --kubeconfig, then
// KUBECONFIG, then ~/.kube/config, then the in-cluster service account. The namespace is the
// flag's, else the current context's, else `default`.
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { IdentityError } from './errors.ts';
import { statusMessage } from '../kube-message.ts';

export interface KubeAccess {
  kc: KubeConfig;
  namespace: string;
}

export function loadKube(kubeconfig: string | undefined, namespace: string | undefined): KubeAccess {
  const kc = new KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new IdentityError('KUBE', `cannot load the Kubernetes configuration${kubeconfig ? ` ${kubeconfig}` : ''}: ${(cause as Error).message}`, { cause });
  }
  if (!kc.getCurrentCluster()) throw new IdentityError('KUBE', 'no current cluster in the Kubernetes configuration (set --kubeconfig or KUBECONFIG)');
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { kc, namespace: namespace ?? contextNamespace ?? 'default' };
}

export const kubeStatus = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** A Kubernetes refusal in one line (status and the server's message), without headers. */
export function kubeError(action: string, err: unknown): IdentityError {
  if (err instanceof ApiException) {
    const message = statusMessage(err);
    return new IdentityError(err.code === 404 ? 'NOT_FOUND' : 'KUBE', `${action}: HTTP ${err.code}${message ? `: ${message}` : ''}`, { cause: err });
  }
  return new IdentityError('KUBE', `${action}: ${(err as Error).message}`, { cause: err });
}
