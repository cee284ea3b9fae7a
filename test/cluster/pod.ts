// A real single-node cluster (kubelet, containerd, runc, CNI bridge, kube-proxy, controllers)
// runs a pod from an image imported as an OCI archive: it reaches Running and Ready through
// its probes, reads its mounted ServiceAccount token and uses it against the API server through
// the kubernetes Service, is reachable through a Service of its own, and is deleted cleanly.
// Registered by cluster.test.ts on the cluster it shares with the chart and agent suites (the
// probe image and the product images are imported there).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClusterError, kubeRequest, PROBE_IMAGE, repoRoot, resolveInCluster, type KubeCluster } from '@edgeplane/env';
import type { SharedCluster } from './shared.ts';

// The product's images, when `make images` has written them.
const imagesDir = join(repoRoot, 'dist', 'images');
interface BuiltImage {
  name: string;
  reference: string;
  archive: string;
}
const builtImages: BuiltImage[] = existsSync(join(imagesDir, 'images.json')) ? (JSON.parse(readFileSync(join(imagesDir, 'images.json'), 'utf8')) as BuiltImage[]) : [];
const image = (name: string) => builtImages.find((i) => i.name === name && existsSync(join(imagesDir, i.archive)));
const imagesMissing = ['control-plane', 'agent', 'nats-server', 'redis-server'].filter((n) => !image(n));

interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: { type: string; status: string; reason?: string }[];
  containerStatuses?: { name: string; ready: boolean; restartCount: number; state?: Record<string, unknown> }[];
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a kept-alive one opened before kube-proxy's rule for a new
    // ClusterIP existed went out of the default route, and would keep doing so.
    const req = request(url, { timeout: 5000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const RESTRICTED = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

/** A pod of one of the product's images, as the chart runs them: non-root, restricted, no pulls. */
function imagePod(name: string, reference: string, container: Record<string, unknown>, restartPolicy = 'Always'): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy,
      terminationGracePeriodSeconds: 2,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name, image: reference, imagePullPolicy: 'Never', securityContext: RESTRICTED, volumeMounts: [{ name: 'data', mountPath: '/data' }], ...container }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}
// The workload: copy the token where httpd serves it, connect to the API server through the
// kubernetes Service (kube-proxy and the pod network on the path), serve. (busybox's TLS client
// cannot talk to the API server's ECDSA certificate, so the connection is TCP only; the token
// itself is checked with a TokenReview.)
const SCRIPT = [
  `cat ${TOKEN} > /srv/token`,
  'echo ok > /srv/healthz',
  'nc -w 5 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" < /dev/null > /dev/null 2> /srv/api.err; echo "$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $?" > /srv/api',
  'echo "probe: serving /srv on 8080"',
  'exec httpd -f -p 8080 -h /srv',
].join('\n');

function probePod(name: string, readinessPath: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 2,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image: PROBE_IMAGE,
          imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', SCRIPT],
          ports: [{ containerPort: 8080 }],
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: [{ name: 'srv', mountPath: '/srv' }],
          startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 30 },
          readinessProbe: { httpGet: { path: readinessPath, port: 8080 }, periodSeconds: 1 },
          livenessProbe: { exec: { command: ['/bin/cat', TOKEN] }, periodSeconds: 2 },
        },
      ],
      volumes: [{ name: 'srv', emptyDir: { medium: 'Memory' } }],
    },
  };
}

/** The pod checks, inside a describe block of cluster.test.ts. */
export function podChecks(shared: SharedCluster): void {
  let cluster: KubeCluster;

  beforeAll(() => {
    cluster = shared.cluster;
  });

  // What the checks below leave in the default namespace, so the suites after them share a quiet node.
  afterAll(async () => {
    for (const path of ['pods/unready', 'services/probe', 'services/dns-target']) await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/default/${path}?gracePeriodSeconds=1`).catch(() => undefined);
  }, 60_000);

  const pod = async (name: string) => {
    const res = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/default/pods/${name}`);
    return res.status === 200 ? ((res.body as { status: PodStatus }).status ?? {}) : undefined;
  };

  it('registers a Ready node running containerd', async () => {
    const res = await kubeRequest(cluster, 'GET', `/api/v1/nodes/${cluster.nodeName}`);
    expect(res.status).toBe(200);
    const node = res.body as { status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string }; conditions: { type: string; status: string }[] } };
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/v?2\./);
    expect(node.status.nodeInfo.kubeletVersion).toMatch(/^v1\.\d+\.\d+/);
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('runs a pod from an imported image to Running and Ready through its probes', async () => {
    const created = Date.now();
    const res = await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/pods', probePod('probe', '/healthz'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    // A second pod whose readiness probe asks for a missing path: Running but never Ready, so
    // the Ready above comes from probes that were really evaluated.
    expect((await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/pods', probePod('unready', '/missing'))).status).toBe(201);
    const status = await until('pod probe Ready', async () => {
      const s = await pod('probe');
      return s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? s : undefined;
    }, 120_000);
    console.log(`[cluster] pod Running and Ready ${Date.now() - created} ms after create`);
    expect(status.phase).toBe('Running');
    expect(status.podIP).toMatch(/^10\.244\.0\./);
    const unready = await until('pod unready Running', async () => {
      const s = await pod('unready');
      return s?.phase === 'Running' ? s : undefined;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const later = await pod('unready');
    expect(later?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    expect(unready.containerStatuses?.[0]?.ready).toBe(false);
    // The exec liveness probe (cat of the token) passes: the container was never restarted.
    expect((await pod('probe'))?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('mounts a ServiceAccount token the container reads and the API server accepts', async () => {
    const { podIP } = (await pod('probe'))!;
    const token = await httpGet(`http://${podIP}:8080/token`);
    expect(token.status).toBe(200);
    const review = await kubeRequest(cluster, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: token.body.trim() },
    });
    const result = (review.body as { status: { authenticated?: boolean; user?: { username?: string } } }).status;
    expect(result.authenticated).toBe(true);
    expect(result.user?.username).toBe('system:serviceaccount:default:default');
  });

  it('connects from the pod to the API server through the kubernetes Service', async () => {
    const { podIP } = (await pod('probe'))!;
    const api = await httpGet(`http://${podIP}:8080/api`);
    const err = (await httpGet(`http://${podIP}:8080/api.err`)).body;
    expect(api.body.trim(), `nc: ${err}`).toBe('10.0.0.1:443 0');
  });

  it('reaches the pod through a ClusterIP Service', async () => {
    const res = await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'probe' },
      spec: { selector: { app: 'probe' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    expect(res.status).toBe(201);
    const clusterIP = (res.body as { spec: { clusterIP: string } }).spec.clusterIP;
    let last = '';
    const answer = await until('Service answers', async () => {
      const r = await httpGet(`http://${clusterIP}/healthz`).catch((err: Error) => void (last = err.message));
      if (r) last = `HTTP ${r.status} ${r.body.slice(0, 200)}`;
      return r?.status === 200 ? r : undefined;
    }, 45_000).catch(async (err: Error) => {
      const slices = await kubeRequest(cluster, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dprobe');
      throw new Error(`${err.message}; last: ${last}; endpoint slices: ${JSON.stringify((slices.body as { items?: unknown[] }).items)}`);
    });
    expect(answer.body.trim()).toBe('ok');
  });

  it('kubectl logs and exec reach the container through the API server and the kubelet', async () => {
    expect(await cluster.podLogs('default', 'probe')).toContain('probe: serving /srv on 8080');
    expect(await cluster.kubectl(['logs', '-n', 'default', 'probe', '-c', 'probe', '--tail=1'])).toBe('probe: serving /srv on 8080\n');
    expect(await cluster.exec('default', 'probe', ['/bin/cat', '/srv/healthz'])).toBe('ok\n');
    expect((await cluster.exec('default', 'probe', ['/bin/busybox', 'id', '-u'])).trim()).toBe('65534');
    // stdin reaches the process; a failing command's exit status is reported, not swallowed.
    expect(await cluster.exec('default', 'probe', ['/bin/cat'], { stdin: 'through stdin\n' })).toBe('through stdin\n');
    const failed = await cluster.exec('default', 'probe', ['/bin/sh', '-c', 'echo gone >&2; exit 3']).then(() => null, (err: ClusterError) => err);
    expect(failed?.code).toBe('command-failed');
    expect(failed?.message).toMatch(/exit code 3/);
    expect(failed?.message).toContain('gone');
  });

  it('resolves the API server and a Service of its own through the cluster DNS', { timeout: 120_000 }, async () => {
    expect(cluster.dns?.serviceIP).toBe('10.0.0.10');
    const svc = await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'dns-target' },
      spec: { selector: { app: 'probe' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    expect(svc.status, JSON.stringify(svc.body)).toBe(201);
    const clusterIP = (svc.body as { spec: { clusterIP: string } }).spec.clusterIP;
    // The pod asks every second and writes the answers where httpd serves them.
    const script = [
      'cat /etc/resolv.conf > /srv/resolv.conf',
      'while true; do',
      '  /bin/busybox nslookup kubernetes.default.svc.cluster.local > /srv/api.dns 2>&1',
      '  /bin/busybox nslookup dns-target.default.svc.cluster.local > /srv/svc.dns 2>&1',
      '  /bin/busybox nslookup dns-target > /srv/short.dns 2>&1',
      '  sleep 1',
      'done &',
      'exec httpd -f -p 8080 -h /srv',
    ].join('\n');
    const spec = probePod('dns', '/resolv.conf') as { spec: { containers: { command: string[] }[] } };
    spec.spec.containers[0]!.command = ['/bin/sh', '-c', script];
    const res = await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/pods', spec);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { podIP } = await until('pod dns Ready', async () => {
      const s = await pod('dns');
      return s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? s : undefined;
    }, 90_000);
    const resolvConf = (await httpGet(`http://${podIP}:8080/resolv.conf`)).body;
    expect(resolvConf).toMatch(/^nameserver 10\.0\.0\.10$/m);
    expect(resolvConf).toMatch(/^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/m);
    const answer = (file: string, address: string) =>
      until(`${file} answers ${address}`, async () => {
        const r = await httpGet(`http://${podIP}:8080/${file}`).catch(() => undefined);
        return r?.status === 200 && r.body.includes(`Address: ${address}`) ? r.body : undefined;
      }, 20_000).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${(await httpGet(`http://${podIP}:8080/${file}`).catch(() => undefined))?.body}`);
      });
    await answer('api.dns', '10.0.0.1');
    await answer('svc.dns', clusterIP);
    await answer('short.dns', clusterIP);
    expect(await resolveInCluster(cluster.dns!.serviceName('dns-target'))).toEqual([clusterIP]);
    await kubeRequest(cluster, 'DELETE', '/api/v1/namespaces/default/pods/dns?gracePeriodSeconds=1');
  });

  it.runIf(imagesMissing.length === 0)('runs the product images: nats-server and redis-server Ready, control plane and agent --version', { timeout: 180_000 }, async () => {
    // The four archives were imported by cluster.test.ts's setup.
    const pods = [
      imagePod('img-nats', image('nats-server')!.reference, { args: ['-js', '-sd', '/data', '-m', '8222'], readinessProbe: { httpGet: { path: '/healthz', port: 8222 }, periodSeconds: 1 } }),
      imagePod('img-redis', image('redis-server')!.reference, { args: ['--port', '6379', '--save', '', '--dir', '/data'], readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 1 } }),
      imagePod('img-cp', image('control-plane')!.reference, { args: ['--version'] }, 'Never'),
      imagePod('img-agent', image('agent')!.reference, { args: ['--version'] }, 'Never'),
    ];
    const created = Date.now();
    for (const p of pods) {
      const res = await kubeRequest(cluster, 'POST', '/api/v1/namespaces/default/pods', p);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    for (const name of ['img-nats', 'img-redis']) {
      await until(`${name} Ready`, async () => ((await pod(name))?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 120_000);
      console.log(`[cluster] ${name} Ready ${Date.now() - created} ms after create`);
    }
    for (const name of ['img-cp', 'img-agent']) {
      const status = await until(`${name} finished`, async () => {
        const s = await pod(name);
        return s?.phase === 'Succeeded' || s?.phase === 'Failed' ? s : undefined;
      }, 120_000);
      const log = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/default/pods/${name}`);
      expect(status.phase, JSON.stringify((log.body as { status: unknown }).status)).toBe('Succeeded');
    }
    for (const p of ['img-nats', 'img-redis', 'img-cp', 'img-agent']) await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/default/pods/${p}?gracePeriodSeconds=1`);
  });

  it('deletes the pod cleanly: object gone, containers stopped, IP released', { timeout: 120_000 }, async () => {
    const { podIP } = (await pod('probe'))!;
    const ipamDir = join(cluster.dir, 'cni', 'ipam', 'edgeplane-test');
    expect(existsSync(join(ipamDir, podIP!))).toBe(true);
    const containers = () => cluster.ctr(['containers', 'ls', '-q', 'labels."io.kubernetes.pod.name"==probe']).split('\n').filter(Boolean);
    const ids = containers();
    expect(ids.length).toBeGreaterThanOrEqual(2); // the sandbox and the container
    const res = await kubeRequest(cluster, 'DELETE', '/api/v1/namespaces/default/pods/probe');
    expect(res.status).toBe(200);
    const deleted = Date.now();
    await until('pod object gone', async () => ((await pod('probe')) === undefined ? true : undefined), 90_000);
    console.log(`[cluster] pod object gone ${Date.now() - deleted} ms after delete`);
    // Nothing of the pod runs any more (its stopped containers stay until the kubelet's
    // garbage collection, a minute later, as on any node).
    await until('containers stopped', async () => {
      const tasks = cluster.ctr(['tasks', 'ls']);
      return ids.some((id) => tasks.includes(id)) ? undefined : true;
    });
    // The sandbox's network teardown (CNI DEL) gave the address back.
    await until('IP released', async () => (readdirSync(ipamDir).includes(podIP!) ? undefined : true));
  });
}
