// The test cluster's DNS: CoreDNS (built from its Go module, imported as an OCI archive) in
// kube-system, as kubeadm deploys it: the kubernetes plugin for cluster.local, the host's
// resolver for everything else, and the kube-dns Service at the address the kubelet hands to
// every pod as its nameserver.
import { Resolver } from 'node:dns/promises';
import type { KubeAccess } from './kube.ts';
import { kubeRequest, message } from './kube-http.ts';

/** The cluster domain pods' search paths and Service names end in. */
export const CLUSTER_DOMAIN = 'cluster.local';
/** The kube-dns Service's ClusterIP (the tenth address of kube.ts's 10.0.0.0/24 Service range). */
export const CLUSTER_DNS_IP = '10.0.0.10';
export const CLUSTER_DNS_NAMESPACE = 'kube-system';
export const CLUSTER_DNS_SERVICE = 'kube-dns';

/** What a test or a chart needs to know about the cluster's DNS. */
export interface ClusterDns {
  /** The nameserver in every pod's /etc/resolv.conf (the kube-dns Service's ClusterIP). */
  serviceIP: string;
  domain: string;
  namespace: string;
  service: string;
  /** The CoreDNS image reference, imported into the node's image store. */
  image: string;
  /** `<service>.<namespace>.svc.<domain>`. */
  serviceName(service: string, namespace?: string): string;
}

export function clusterDns(image: string): ClusterDns {
  return {
    serviceIP: CLUSTER_DNS_IP,
    domain: CLUSTER_DOMAIN,
    namespace: CLUSTER_DNS_NAMESPACE,
    service: CLUSTER_DNS_SERVICE,
    image,
    serviceName: (service, namespace = 'default') => `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`,
  };
}

// kubeadm's Corefile, with the lame-duck wait shortened: a test cluster's stop() should not
// spend 5 s on it.
export const COREFILE = `.:53 {
    errors
    health {
        lameduck 1s
    }
    ready
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

const labels = { 'k8s-app': 'kube-dns' };

/** The objects of the cluster DNS, in the order they are created. */
export function clusterDnsManifests(image: string): { path: string; body: Record<string, unknown> }[] {
  const ns = CLUSTER_DNS_NAMESPACE;
  const meta = (name: string) => ({ name, namespace: ns, labels });
  return [
    { path: `/api/v1/namespaces/${ns}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('coredns') } },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'system:coredns', labels },
        rules: [
          { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'system:coredns', labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
        subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
      },
    },
    { path: `/api/v1/namespaces/${ns}/configmaps`, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('coredns'), data: { Corefile: COREFILE } } },
    {
      path: `/apis/apps/v1/namespaces/${ns}/deployments`,
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta('coredns'),
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: 'coredns',
              priorityClassName: 'system-cluster-critical',
              // The host's resolver, not itself: CoreDNS forwards what is not cluster.local there.
              dnsPolicy: 'Default',
              terminationGracePeriodSeconds: 2,
              tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
              securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'coredns',
                  image,
                  imagePullPolicy: 'Never',
                  args: ['-conf', '/etc/coredns/Corefile'],
                  resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '170Mi' } },
                  ports: [
                    { name: 'dns', containerPort: 53, protocol: 'UDP' },
                    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                    { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                  ],
                  // Port 53 as uid 65532: containerd opens every port in the pod's network
                  // namespace to unprivileged users (net.ipv4.ip_unprivileged_port_start=0).
                  securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                  volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
                  livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10, failureThreshold: 5 },
                  readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
                },
              ],
              volumes: [{ name: 'config', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
            },
          },
        },
      },
    },
    {
      path: `/api/v1/namespaces/${ns}/services`,
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...meta(CLUSTER_DNS_SERVICE), labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
        spec: {
          selector: labels,
          clusterIP: CLUSTER_DNS_IP,
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
            { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
          ],
        },
      },
    },
  ];
}

/** Creates the cluster DNS objects; an object that already exists is left as it is. */
export async function deployClusterDns(kube: KubeAccess, image: string): Promise<void> {
  for (const { path, body } of clusterDnsManifests(image)) {
    const res = await kubeRequest(kube, 'POST', path, body);
    if (res.status !== 201 && res.status !== 409) {
      const kind = String(body['kind']);
      throw new Error(`cluster DNS: creating ${kind} refused (HTTP ${res.status}): ${message(res)}`);
    }
  }
}

/**
 * The addresses `name` has, asked of the cluster DNS from the host (through kube-proxy's rules
 * for the Service's ClusterIP); an empty list when it has none or does not answer.
 */
export async function resolveInCluster(name: string, timeoutMs = 2000): Promise<string[]> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([CLUSTER_DNS_IP]);
  return resolver.resolve4(name).catch(() => []);
}
