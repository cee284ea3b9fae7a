// Kubernetes clients from the configured credentials.
// The calls the control plane makes, which the chart's RBAC must grant:
//   edgeplane.io edgemodeldeployments        get, list, watch, patch   (patch: the assignments finalizer)
//   edgeplane.io edgemodeldeployments/status get, update
//   edgeplane.io edgenodes                   get, list, watch, create, update, delete (departed nodes)
//   edgeplane.io edgenodes/status            get, update
//   coordination.k8s.io leases               get, create, update   (the one leader Lease)
//   events.k8s.io events                     create, list          (on EdgeModelDeployments; list: the dashboard's views)
//   authentication.k8s.io tokenreviews       create                (API callers' bearer tokens)
//   authorization.k8s.io subjectaccessreviews create              (API callers' permissions)
//   core secrets                             get, update           (bootstrap tokens, in their namespace)
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig } from '@kubernetes/client-node';
import type { KubeSource } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { shareConnections } from './shared-dispatcher.ts';

export interface KubeClients {
  kc: KubeConfig;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  events: EventsV1Api;
  /** Bootstrap token Secrets only. */
  core: CoreV1Api;
}

export function loadKubeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (source.source === 'file') kc.loadFromFile(source.path);
    else if (source.source === 'in-cluster') kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (cause) {
    throw new ConfigError('EP_KUBECONFIG (--kubeconfig)', `cannot load ${source.source === 'file' ? source.path : source.source} credentials: ${(cause as Error).message}`, { cause });
  }
  if (!kc.getCurrentCluster()) throw new ConfigError('EP_KUBECONFIG (--kubeconfig)', 'no current cluster in the Kubernetes configuration');
  // Calls share kept-alive connections instead of a TLS handshake each.
  shareConnections(kc);
  return kc;
}

export function kubeClients(kc: KubeConfig): KubeClients {
  return {
    kc,
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
    core: kc.makeApiClient(CoreV1Api),
  };
}
