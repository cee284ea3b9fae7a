// The chart on the test cluster (cluster.ts), as an operator installs it on k3s:
//
//   const images = importProductImages(cluster);           // dist/images/*.oci.tar into containerd
//   const backends = await startBackends(cluster, images);  // NATS (operator JWT, TLS, JetStream) and Redis as pods
//   const release = await installRelease(cluster, backends, images, { values: { ... } });
//   await release.upgrade({ controlPlane: { logLevel: 'debug' } });
//   await release.uninstall();
//
// startBackends() makes the fleet's trust material with @edgeplane/trust (what `edgeplane certs`
// makes), runs nats-server and redis-server from the product's images in their own namespace,
// and writes into the release namespace the Secrets the chart mounts: `edgeplane-trust`
// (trust.json, ca.pem, control-plane.creds) and `redis-auth` (password). installRelease() runs
// `helm install` with the secure defaults (TLS and operator JWTs, restricted pods, read-only
// root), images by their built tags with pullPolicy Never, NATS and Redis by their Services, the
// agent off unless the values turn it on, and waits for the control plane's rollout. Services are
// addressed by DNS name when the cluster runs DNS (a kube-dns Service), else by ClusterIP; the
// NATS server's certificate names both. From the host, `backends.natsOptions()` connects to
// NATS through its ClusterIP (kube-proxy routes the host's traffic too).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { credsAuthenticator, type ConnectionOptions, type TlsOptions } from '@nats-io/transport-node';
import { caHash, createTrustMaterial, serverTrustConfig, type TrustMaterial } from '@edgeplane/trust';
import { createCa, issueServerCert } from '@edgeplane/trust/certs';
import { stringify } from 'yaml';
import { goBinary } from './binaries.ts';
import type { KubeCluster } from './cluster.ts';
import { repoRoot } from './crds.ts';
import { kubeRequest, message } from './kube-http.ts';
import { credsFor, type NatsIdentity } from './nats-trust.ts';

export type ReleaseErrorCode = 'images-missing' | 'kube-refused' | 'helm-failed' | 'not-ready';
export class ReleaseError extends Error {
  readonly code: ReleaseErrorCode;
  constructor(code: ReleaseErrorCode, message: string) {
    super(message);
    this.name = 'ReleaseError';
    this.code = code;
  }
}

/** Image references (repository:tag) of the product's images, as `make images` tagged them. */
export interface ProductImages {
  controlPlane: string;
  agent: string;
  nats: string;
  redis: string;
}

export const imagesDir = join(repoRoot, 'dist', 'images');
const IMAGE_NAMES = { controlPlane: 'control-plane', agent: 'agent', nats: 'nats-server', redis: 'redis-server' } as const;

interface BuiltImage {
  name: string;
  reference: string;
  archive: string;
}
function builtImages(): BuiltImage[] {
  const index = join(imagesDir, 'images.json');
  return existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as BuiltImage[]) : [];
}

/** Names of the product images `make images` has not written (empty when all four are there). */
export function missingProductImages(): string[] {
  const built = builtImages();
  return Object.values(IMAGE_NAMES).filter((n) => !built.some((i) => i.name === n && existsSync(join(imagesDir, i.archive))));
}

/** Imports the four archives from dist/images into the cluster's containerd. */
export function importProductImages(cluster: KubeCluster): ProductImages {
  const missing = missingProductImages();
  if (missing.length) throw new ReleaseError('images-missing', `${missing.join(', ')} not in dist/images (make images)`);
  const built = builtImages();
  const out = {} as Record<keyof ProductImages, string>;
  for (const [key, name] of Object.entries(IMAGE_NAMES) as [keyof ProductImages, string][]) {
    const image = built.find((i) => i.name === name)!;
    cluster.importImage(join(imagesDir, image.archive));
    out[key] = image.reference;
  }
  return out;
}

/** Splits `repo/name:tag` into the chart's image.repository and image.tag. */
export function splitReference(reference: string): { repository: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  if (colon <= reference.lastIndexOf('/')) return { repository: reference, tag: 'latest' };
  return { repository: reference.slice(0, colon), tag: reference.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// Objects through the API server

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [field: string]: unknown;
}

/** The resource name of a built-in kind (Secret: secrets, NetworkPolicy: networkpolicies). */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  return k.endsWith('y') ? `${k.slice(0, -1)}ies` : k.endsWith('s') ? `${k}es` : `${k}s`;
}

/** The collection an object belongs to, e.g. /api/v1/namespaces/ns/secrets. */
export function collectionPath(o: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return o.metadata.namespace ? `${base}/namespaces/${o.metadata.namespace}/${pluralOf(o.kind)}` : `${base}/${pluralOf(o.kind)}`;
}

/** Creates the object, or replaces it when it exists. */
export async function applyObject(cluster: KubeCluster, o: KubeObject): Promise<KubeObject> {
  const path = collectionPath(o);
  const created = await kubeRequest(cluster, 'POST', path, o);
  if (created.status === 201) return created.body as KubeObject;
  if (created.status !== 409) throw new ReleaseError('kube-refused', `create ${o.kind} ${o.metadata.name}: HTTP ${created.status} ${message(created)}`);
  const current = await kubeRequest(cluster, 'GET', `${path}/${o.metadata.name}`);
  const resourceVersion = (current.body as KubeObject).metadata.resourceVersion;
  const replaced = await kubeRequest(cluster, 'PUT', `${path}/${o.metadata.name}`, { ...o, metadata: { ...o.metadata, resourceVersion } });
  if (replaced.status !== 200) throw new ReleaseError('kube-refused', `replace ${o.kind} ${o.metadata.name}: HTTP ${replaced.status} ${message(replaced)}`);
  return replaced.body as KubeObject;
}

export async function ensureClusterNamespace(cluster: KubeCluster, name: string): Promise<void> {
  const res = await kubeRequest(cluster, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (res.status !== 201 && res.status !== 409) throw new ReleaseError('kube-refused', `namespace ${name}: HTTP ${res.status} ${message(res)}`);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, explain: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new ReleaseError('not-ready', `${what}: not within ${timeoutMs} ms; ${await explain()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface PodState {
  name: string;
  uid: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  created: string;
  restarts: number;
  /** The first container's state as the kubelet reports it (waiting reason, last exit). */
  state: string;
}

/** Pods matching a label selector, with what a failed wait needs to explain itself. */
export async function listPods(cluster: KubeCluster, namespace: string, selector: string): Promise<PodState[]> {
  const res = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
  if (res.status !== 200) throw new ReleaseError('kube-refused', `list pods ${selector}: HTTP ${res.status} ${message(res)}`);
  interface Pod {
    metadata: { name: string; uid: string; creationTimestamp: string; deletionTimestamp?: string };
    status: {
      phase?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { restartCount: number; state?: Record<string, { reason?: string; exitCode?: number }>; lastState?: Record<string, { reason?: string; exitCode?: number }> }[];
    };
  }
  return (res.body as { items: Pod[] }).items.map((p) => {
    const c = p.status.containerStatuses?.[0];
    const describe = (s?: Record<string, { reason?: string; exitCode?: number }>) =>
      Object.entries(s ?? {}).map(([k, v]) => `${k}${v.reason ? ` ${v.reason}` : ''}${v.exitCode !== undefined ? ` exit ${v.exitCode}` : ''}`).join(',');
    return {
      name: p.metadata.name,
      uid: p.metadata.uid,
      phase: p.status.phase ?? 'Unknown',
      ready: p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false,
      deleting: Boolean(p.metadata.deletionTimestamp),
      created: p.metadata.creationTimestamp,
      restarts: c?.restartCount ?? 0,
      state: `${describe(c?.state)}${c?.lastState && Object.keys(c.lastState).length ? ` (last: ${describe(c.lastState)})` : ''}`,
    };
  });
}

/** The tail of a pod's container log, read from the kubelet's log directory (no exec/logs API needed). */
export function podLogTail(cluster: KubeCluster, namespace: string, pod: PodState, lines = 20): string {
  const dir = join(cluster.dir, 'pod-logs', `${namespace}_${pod.name}_${pod.uid}`);
  if (!existsSync(dir)) return '';
  const out: string[] = [];
  for (const container of readdirSync(dir)) {
    const files = readdirSync(join(dir, container)).sort();
    const last = files.at(-1);
    if (!last) continue;
    const text = readFileSync(join(dir, container, last), 'utf8').trim().split('\n').slice(-lines);
    out.push(`${container}:\n${text.map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, '  ')).join('\n')}`);
  }
  return out.join('\n');
}

async function explainPods(cluster: KubeCluster, namespace: string, selector: string): Promise<string> {
  const pods = await listPods(cluster, namespace, selector).catch(() => []);
  if (pods.length === 0) return `no pods match ${selector}`;
  return pods.map((p) => `${p.name} ${p.phase} ready=${p.ready} restarts=${p.restarts} ${p.state}\n${podLogTail(cluster, namespace, p, 8)}`).join('\n');
}

/** Waits until a Deployment's rollout is complete: every replica updated, Ready and available, no old pod left. */
export async function waitForRollout(cluster: KubeCluster, namespace: string, name: string, timeoutMs = 120_000): Promise<void> {
  let selector = '';
  await until(`Deployment ${namespace}/${name} rolled out`, timeoutMs, async () => {
    const res = await kubeRequest(cluster, 'GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`);
    if (res.status !== 200) return undefined;
    const d = res.body as {
      metadata: { generation: number };
      spec: { replicas: number; selector: { matchLabels: Record<string, string> } };
      status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
    };
    selector = Object.entries(d.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
    const s = d.status;
    const done = (s.observedGeneration ?? 0) >= d.metadata.generation && s.updatedReplicas === d.spec.replicas && s.replicas === d.spec.replicas && s.readyReplicas === d.spec.replicas && s.availableReplicas === d.spec.replicas;
    if (!done) return undefined;
    // Terminating pods of the old ReplicaSet are not counted in status.replicas: wait them out too.
    const pods = await listPods(cluster, namespace, selector);
    return pods.length === d.spec.replicas && pods.every((p) => p.ready && !p.deleting) ? true : undefined;
  }, () => (selector ? explainPods(cluster, namespace, selector) : Promise.resolve('Deployment not found')));
}

// ---------------------------------------------------------------------------------------------
// NATS and Redis in the cluster

export interface ClusterBackends {
  /** Namespace of the nats and redis Deployments and Services. */
  namespace: string;
  trust: TrustMaterial;
  caPem: string;
  /** `sha256:<hex>`, the CA pin agents take (agent.caHash). */
  caHash: string;
  /** Host name or address pods dial: the Service's DNS name when the cluster runs DNS, else its ClusterIP. */
  natsHost: string;
  natsClusterIP: string;
  /** tls://<natsHost>:4222, for nats.url and agent.natsUrl. */
  natsUrl: string;
  redisHost: string;
  redisClusterIP: string;
  /** redis://<redisHost>:6379, without the password (it is in the redis-auth Secret). */
  redisUrl: string;
  redisPassword: string;
  /** Connection options from the host, through the NATS Service's ClusterIP. */
  natsOptions(who?: NatsIdentity): Promise<ConnectionOptions>;
  /** Writes the Secrets the chart mounts (trust, redis-auth) into a release namespace. */
  writeReleaseSecrets(namespace: string): Promise<void>;
}

export interface BackendsOptions {
  /** Default `edgeplane-backends`. */
  namespace?: string;
  timeoutMs?: number;
}

export const TRUST_SECRET = 'edgeplane-trust';
export const REDIS_AUTH_SECRET = 'redis-auth';
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function deployment(namespace: string, name: string, container: Record<string, unknown>, volumes: unknown[]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name, imagePullPolicy: 'Never', securityContext: RESTRICTED_CONTAINER, ...container }],
          volumes,
        },
      },
    },
  };
}

function service(namespace: string, name: string, ports: { name: string; port: number }[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels: { app: name } }, spec: { selector: { app: name }, ports: ports.map((p) => ({ ...p, targetPort: p.port, protocol: 'TCP' })) } };
}

/** True when the cluster runs DNS for Services (a kube-dns Service in kube-system). */
export async function clusterHasDns(cluster: KubeCluster): Promise<boolean> {
  return (await kubeRequest(cluster, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns')).status === 200;
}

/**
 * nats-server (operator JWTs, TLS, JetStream on an emptyDir) and redis-server (password) from
 * the product's images, each a Deployment and a Service, Ready when this resolves.
 */
export async function startBackends(cluster: KubeCluster, images: ProductImages, options: BackendsOptions = {}): Promise<ClusterBackends> {
  const namespace = options.namespace ?? 'edgeplane-backends';
  const timeoutMs = options.timeoutMs ?? 120_000;
  await ensureClusterNamespace(cluster, namespace);
  const dns = await clusterHasDns(cluster);
  // Services first: the server certificate names the ClusterIP as well as the DNS names.
  const natsSvc = await applyObject(cluster, service(namespace, 'nats', [{ name: 'client', port: 4222 }, { name: 'monitor', port: 8222 }]));
  const redisSvc = await applyObject(cluster, service(namespace, 'redis', [{ name: 'redis', port: 6379 }]));
  const natsClusterIP = (natsSvc.spec as { clusterIP: string }).clusterIP;
  const redisClusterIP = (redisSvc.spec as { clusterIP: string }).clusterIP;
  const natsDns = ['nats', `nats.${namespace}`, `nats.${namespace}.svc`, `nats.${namespace}.svc.cluster.local`];

  const trust = createTrustMaterial(await createCa('edgeplane test-cluster CA'));
  const server = await issueServerCert(trust.ca, { commonName: natsDns[3]!, dnsNames: natsDns, ips: [natsClusterIP] });
  const natsConf = [
    'listen: "0.0.0.0:4222"',
    'http: "0.0.0.0:8222"',
    'server_name: "ep-cluster-nats"',
    'max_payload: 8MB',
    'jetstream { store_dir: "/data/jetstream", max_memory_store: 256MB, max_file_store: 2GB }',
    await serverTrustConfig(trust, { resolverDir: '/data/accounts', tls: { certFile: '/etc/nats/server.pem', keyFile: '/etc/nats/server-key.pem' } }),
  ].join('\n');
  await applyObject(cluster, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'nats-server', namespace },
    type: 'Opaque',
    stringData: { 'nats.conf': natsConf, 'server.pem': server.certPem, 'server-key.pem': server.keyPem },
  });
  await applyObject(
    cluster,
    deployment(
      namespace,
      'nats',
      {
        image: images.nats,
        args: ['-c', '/etc/nats/nats.conf'],
        ports: [{ name: 'client', containerPort: 4222 }, { name: 'monitor', containerPort: 8222 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8222 }, periodSeconds: 1 },
        volumeMounts: [{ name: 'config', mountPath: '/etc/nats', readOnly: true }, { name: 'data', mountPath: '/data' }],
      },
      [{ name: 'config', secret: { secretName: 'nats-server', defaultMode: 0o440 } }, { name: 'data', emptyDir: {} }],
    ),
  );

  // Hex: the chart splices the password into the URL, which needs it URL-safe.
  const redisPassword = randomBytes(16).toString('hex');
  await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: REDIS_AUTH_SECRET, namespace }, type: 'Opaque', stringData: { password: redisPassword } });
  await applyObject(
    cluster,
    deployment(
      namespace,
      'redis',
      {
        image: images.redis,
        env: [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: REDIS_AUTH_SECRET, key: 'password' } } }],
        args: ['--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/data', '--requirepass', '$(REDIS_PASSWORD)'],
        ports: [{ name: 'redis', containerPort: 6379 }],
        readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 1 },
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
      [{ name: 'data', emptyDir: {} }],
    ),
  );
  await waitForRollout(cluster, namespace, 'nats', timeoutMs);
  await waitForRollout(cluster, namespace, 'redis', timeoutMs);

  const natsHost = dns ? natsDns[3]! : natsClusterIP;
  const redisHost = dns ? `redis.${namespace}.svc.cluster.local` : redisClusterIP;
  return {
    namespace,
    trust,
    caPem: trust.ca.certPem,
    caHash: caHash(trust.ca.certPem),
    natsHost,
    natsClusterIP,
    natsUrl: `tls://${natsHost}:4222`,
    redisHost,
    redisClusterIP,
    redisUrl: `redis://${redisHost}:6379`,
    redisPassword,
    async natsOptions(who: NatsIdentity = 'admin') {
      // The address is the ClusterIP (the host has no cluster DNS); the certificate is checked
      // against the Service's DNS name, as a pod checks it (nats.js gives Node no name for an
      // IP address, and Node then checks "localhost").
      const tls: TlsOptions & { servername: string } = { ca: trust.ca.certPem, servername: natsDns[3]! };
      return {
        servers: `tls://${natsClusterIP}:4222`,
        tls,
        authenticator: credsAuthenticator(new TextEncoder().encode(await credsFor(trust, who))),
      };
    },
    async writeReleaseSecrets(releaseNamespace: string) {
      await ensureClusterNamespace(cluster, releaseNamespace);
      await applyObject(cluster, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: TRUST_SECRET, namespace: releaseNamespace },
        type: 'Opaque',
        stringData: { 'trust.json': `${JSON.stringify(trust, null, 2)}\n`, 'ca.pem': trust.ca.certPem, 'control-plane.creds': await credsFor(trust, 'control-plane') },
      });
      await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: REDIS_AUTH_SECRET, namespace: releaseNamespace }, type: 'Opaque', stringData: { password: redisPassword } });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// helm

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const chartPath = join(repoRoot, 'charts', 'edgeplane');

/** Runs the helm built into the cache against this cluster, with helm state of its own. */
export function clusterHelm(cluster: KubeCluster, args: readonly string[], timeoutMs = 180_000): Promise<HelmResult> {
  const home = join(cluster.dir, 'helm');
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  return new Promise((resolve) => {
    execFile(goBinary('helm'), [...args], { env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export type Values = Record<string, unknown>;

/** Deep merge of plain objects; arrays and scalars of `over` replace those of `base`. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const plain = (x: unknown): x is Values => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = plain(b) && plain(v) ? mergeValues(b, v) : v;
  }
  return out;
}

export interface ReleaseOptions {
  /** Default `edgeplane`. */
  namespace?: string;
  /** Default `ep` (objects are then named ep-edgeplane-*). */
  release?: string;
  /** Merged over the values installRelease() derives (images, backends, agent off). */
  values?: Values;
  timeoutMs?: number;
}

export interface ClusterRelease {
  release: string;
  namespace: string;
  /** The control plane's Deployment, Service and ServiceAccount name. */
  controlPlaneName: string;
  /** Label selector of the control plane's pods. */
  controlPlaneSelector: string;
  /** The values of the last install or upgrade. */
  values: Values;
  /** `helm upgrade` with these values merged over the current ones; waits for the rollout. */
  upgrade(values: Values): Promise<void>;
  /** `helm uninstall --wait`. */
  uninstall(): Promise<void>;
}

/** The values installRelease() starts from: secure defaults, built images, the cluster's backends. */
export function releaseValues(backends: ClusterBackends, images: ProductImages): Values {
  return {
    controlPlane: { image: { ...splitReference(images.controlPlane), pullPolicy: 'Never' } },
    nats: { url: backends.natsUrl },
    redis: { url: backends.redisUrl, auth: { existingSecret: REDIS_AUTH_SECRET, passwordKey: 'password' } },
    trust: { existingSecret: TRUST_SECRET },
    agent: { enabled: false, image: { ...splitReference(images.agent), pullPolicy: 'Never' }, natsUrl: backends.natsUrl, caHash: backends.caHash },
  };
}

/** Writes the release's Secrets, runs `helm install` and waits until the control plane is rolled out. */
export async function installRelease(cluster: KubeCluster, backends: ClusterBackends, images: ProductImages, options: ReleaseOptions = {}): Promise<ClusterRelease> {
  const namespace = options.namespace ?? 'edgeplane';
  const release = options.release ?? 'ep';
  const timeoutMs = options.timeoutMs ?? 180_000;
  const scratch = mkdtempSync(join(tmpdir(), 'ep-release-'));
  await backends.writeReleaseSecrets(namespace);
  let values = mergeValues(releaseValues(backends, images), options.values ?? {});
  const controlPlaneName = release.includes('edgeplane') ? `${release}-control-plane` : `${release}-edgeplane-control-plane`;
  const controlPlaneSelector = `app.kubernetes.io/instance=${release},app.kubernetes.io/component=control-plane`;

  const run = async (verb: 'install' | 'upgrade', v: Values) => {
    const file = join(scratch, `values-${Date.now()}.yaml`);
    writeFileSync(file, stringify(v));
    const res = await clusterHelm(cluster, [verb, release, chartPath, '--namespace', namespace, '--values', file], timeoutMs);
    if (res.code !== 0) throw new ReleaseError('helm-failed', `helm ${verb} ${release}: exit ${res.code}: ${res.stderr.trim()}`);
    await waitForRollout(cluster, namespace, controlPlaneName, timeoutMs);
  };
  await run('install', values);
  return {
    release,
    namespace,
    controlPlaneName,
    controlPlaneSelector,
    get values() {
      return values;
    },
    async upgrade(over: Values) {
      const next = mergeValues(values, over);
      await run('upgrade', next);
      values = next;
    },
    async uninstall() {
      const res = await clusterHelm(cluster, ['uninstall', release, '--namespace', namespace, '--wait', '--timeout', `${Math.round(timeoutMs / 1000)}s`], timeoutMs + 10_000);
      if (res.code !== 0) throw new ReleaseError('helm-failed', `helm uninstall ${release}: exit ${res.code}: ${res.stderr.trim()}`);
    },
  };
}
