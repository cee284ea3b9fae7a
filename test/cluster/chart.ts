// The chart on a real kubelet: the product's images imported, NATS (operator JWTs, TLS,
// JetStream) and Redis (password) as pods, `helm install` with the secure defaults. Both
// control-plane replicas run under the restricted security context with a read-only root and
// become Ready; one holds the Lease; deleting it hands the Lease to the other; `helm upgrade`
// rolls the pods without a failed request through the Service; the PodDisruptionBudget lets a
// drain evict one replica at a time; `helm uninstall` leaves only
// the CRDs (and what the release did not make). Registered by cluster.test.ts on the cluster
// it shares (skipped there, with the reason, without `make images`).
import { request } from 'node:http';
import { connect } from '@nats-io/transport-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  clusterHelm,
  collectionPath,
  installRelease,
  kubeRequest,
  listPods,
  startBackends,
  waitForRollout,
  type ClusterBackends,
  type ClusterRelease,
  type KubeCluster,
  type PodState,
} from '@edgeplane/env';
import type { SharedCluster } from './shared.ts';

const NS = 'edgeplane';
const LEASE = 'edgeplane-control-plane';
const log = (line: string) => console.log(`[chart] ${line}`);

function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request, so each one goes through kube-proxy's current rules.
    const req = request(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The chart checks, inside a describe block of cluster.test.ts; the images are imported there. */
export function chartChecks(shared: SharedCluster): void {
  let cluster: KubeCluster;
  let backends: ClusterBackends;
  let release: ClusterRelease;
  let serviceIP = '';
  let uninstalled = false;

  const pods = () => listPods(cluster, NS, release.controlPlaneSelector);
  const holder = async () => {
    const res = await kubeRequest(cluster, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${LEASE}`);
    return res.status === 200 ? ((res.body as { spec: { holderIdentity?: string } }).spec.holderIdentity ?? '') : undefined;
  };

  beforeAll(async () => {
    cluster = shared.cluster;
    const images = shared.images!;
    const t2 = Date.now();
    backends = await startBackends(cluster, images);
    const t3 = Date.now();
    release = await installRelease(cluster, backends, images, { namespace: NS });
    const t4 = Date.now();
    log(`NATS and Redis Ready ${t3 - t2} ms, helm install to control plane rolled out ${t4 - t3} ms (NATS at ${backends.natsUrl})`);
    const svc = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${NS}/services/${release.controlPlaneName}`);
    serviceIP = (svc.body as { spec: { clusterIP: string } }).spec.clusterIP;
  }, 900_000);

  // The last check uninstalls; when it did not run (a filter, an earlier failure) the release
  // goes here, so the agent suite after this one installs its own on a cluster without it. The
  // backends' namespace goes too (the agent suite starts its own).
  afterAll(async () => {
    if (release && !uninstalled) await release.uninstall().catch((err: Error) => log(`helm uninstall: ${err.message}`));
    if (backends) await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/${backends.namespace}`).catch(() => undefined);
  }, 240_000);

  it('runs both control-plane replicas Running and Ready, restricted, with a read-only root', async () => {
    const list = await pods();
    expect(list.map((p) => `${p.phase} ready=${p.ready} restarts=${p.restarts}`)).toEqual(['Running ready=true restarts=0', 'Running ready=true restarts=0']);
    const res = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${list[0]!.name}`);
    const spec = (res.body as { spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[] } }).spec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    for (const p of list) {
      const status = (await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${p.name}`)).body as { metadata: { creationTimestamp: string }; status: { conditions: { type: string; lastTransitionTime: string }[] } };
      const ready = status.status.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime;
      log(`${p.name}: created to Ready ${(Date.parse(ready) - Date.parse(status.metadata.creationTimestamp)) / 1000} s (API timestamps, 1 s resolution)`);
    }
    const ready = await httpGet(`http://${serviceIP}:8080/readyz`);
    expect(ready.status, ready.body).toBe(200);
  });

  it('has exactly one leader: the Lease is held by one of the two pods', async () => {
    const names = (await pods()).map((p) => p.name);
    const leader = await until('Lease held', async () => ((await holder()) || undefined), 30_000);
    expect(names).toContain(leader);
    // Held, not just written once: still the same holder a renew period later.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await holder()).toBe(leader);
  });

  it('hands the Lease over when the leader pod is deleted, and the replacement becomes Ready', { timeout: 120_000 }, async () => {
    const before = await pods();
    const leader = (await holder())!;
    // The ReplicaSet's replacement, watched from the delete on: first seen, then Ready.
    let seen = 0;
    let readyAt = 0;
    let replacement: PodState | undefined;
    let watching = true;
    const watch = (async () => {
      while (watching && !readyAt) {
        const fresh = (await pods()).filter((p) => !before.some((b) => b.name === p.name));
        if (fresh.length && !seen) seen = Date.now();
        replacement = fresh.find((p) => p.ready);
        if (replacement) readyAt = Date.now();
        else await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const deleted = Date.now();
    const res = await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/${NS}/pods/${leader}`);
    expect(res.status).toBe(200);
    try {
      // The leader serves through its shutdown delay, then releases the Lease on SIGTERM: the
      // standby or the replacement, whichever asks first, takes it.
      const next = await until('Lease handed over', async () => {
        const h = await holder();
        return h && h !== leader ? h : undefined;
      }, 30_000, 100);
      log(`Lease handed from ${leader} to ${next} ${Date.now() - deleted} ms after the delete`);
      await until('replacement pod Ready', async () => (readyAt ? true : undefined), 90_000);
      log(`replacement ${replacement!.name}: first seen to Ready ${readyAt - seen} ms (pod start to Ready, polled every 100 ms)`);
      expect(replacement!.restarts).toBe(0);
      const live = (await pods()).filter((p) => !p.deleting).map((p) => p.name);
      expect(live).toContain(next);
      expect(next).not.toBe(leader);
    } finally {
      watching = false;
      await watch;
    }
  });

  it('rolls a helm upgrade (log level) with no failed request, over HTTP through the Service and over NATS', { timeout: 240_000 }, async () => {
    const before = (await pods()).map((p) => p.name);
    // From outside the cluster: the bandwidth probe any replica answers (queue group), as an
    // agent sends it (with the agent's 10 s timeout), the reply naming the bytes received.
    const nc = await connect(await backends.natsOptions('admin'));
    let stop = false;
    const ok = { http: 0, nats: 0 };
    const slowest = { http: 0, nats: 0 };
    const failures: string[] = [];
    const t0 = Date.now();
    const every100ms = async (what: keyof typeof ok, call: () => Promise<string | null>) => {
      while (!stop) {
        const started = Date.now();
        try {
          const failure = await call();
          if (failure === null) ok[what]++;
          else failures.push(`${what} at +${started - t0} ms: ${failure}`);
        } catch (err) {
          failures.push(`${what} at +${started - t0} ms: ${(err as Error).message}`);
        }
        slowest[what] = Math.max(slowest[what], Date.now() - started);
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
      }
    };
    const payload = new Uint8Array(512);
    const polls = [
      every100ms('http', async () => {
        const r = await httpGet(`http://${serviceIP}:8080/readyz`);
        return r.status === 200 ? null : `HTTP ${r.status} ${r.body.slice(0, 200)}`;
      }),
      every100ms('nats', async () => {
        const reply = (await nc.request('ep.v1.node.rollout-check.probe', payload, { timeout: 10_000 })).string();
        return reply === '512' ? null : `reply ${reply}`;
      }),
    ];
    const started = Date.now();
    try {
      await release.upgrade({ controlPlane: { logLevel: 'debug' } });
    } finally {
      stop = true;
      await Promise.all(polls);
      await nc.close();
    }
    log(`helm upgrade rolled out in ${Date.now() - started} ms: ${ok.http} HTTP and ${ok.nats} NATS requests answered (slowest ${slowest.http} and ${slowest.nats} ms), ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ok.http).toBeGreaterThan(20);
    expect(ok.nats).toBeGreaterThan(20);
    const after = await pods();
    expect(after.filter((p) => before.includes(p.name))).toEqual([]);
    const dep = await kubeRequest(cluster, 'GET', `/apis/apps/v1/namespaces/${NS}/deployments/${release.controlPlaneName}`);
    const env = (dep.body as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } }).spec.template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === 'EP_LOG_LEVEL')?.value).toBe('debug');
    expect(after.map((p: PodState) => p.ready)).toEqual([true, true]);
  });

  it('lets the PodDisruptionBudget evict one replica and refuse the second while the first is replaced', { timeout: 120_000 }, async () => {
    // Two Ready replicas and no pod of an earlier step still terminating.
    await waitForRollout(cluster, NS, release.controlPlaneName);
    const pdbPath = `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/${release.controlPlaneName}`;
    await until('PDB allows one disruption', async () => {
      const res = await kubeRequest(cluster, 'GET', pdbPath);
      return (res.body as { status?: { disruptionsAllowed?: number } }).status?.disruptionsAllowed === 1 ? true : undefined;
    }, 30_000);
    const [first, second] = (await pods()).filter((p) => !p.deleting);
    const evict = (name: string) =>
      kubeRequest(cluster, 'POST', `/api/v1/namespaces/${NS}/pods/${name}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: NS } });
    const one = await evict(first!.name);
    expect(one.status, JSON.stringify(one.body)).toBe(201);
    // The drain's second eviction: refused while only one replica is healthy.
    const two = await evict(second!.name);
    expect(two.status, JSON.stringify(two.body)).toBe(429);
    await waitForRollout(cluster, NS, release.controlPlaneName);
    expect((await pods()).map((p) => p.name)).toContain(second!.name);
  });

  it('uninstalls leaving nothing of the release but the CRDs', { timeout: 180_000 }, async () => {
    // Every object the release made, from its manifest, to check one by one after.
    const manifest = await clusterHelm(cluster, ['get', 'manifest', release.release, '--namespace', NS]);
    expect(manifest.code, manifest.stderr).toBe(0);
    const made = parseAllDocuments(manifest.stdout)
      .map((d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } | null)
      .filter((o): o is { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } => Boolean(o?.kind));
    log(`the release made: ${made.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
    expect(made.length).toBeGreaterThan(5);
    await release.uninstall();
    uninstalled = true;
    await until('control-plane pods gone', async () => ((await pods()).length === 0 ? true : undefined), 90_000);
    const left = await namespacedObjects(cluster, NS);
    // What the release did not make: the namespace's own ServiceAccount and CA ConfigMap, the
    // Secrets made before the install (trust material, Redis password), Events the cluster
    // wrote, and the leader Lease, which the control plane creates (its term, the fencing token
    // of KV writes, starts above every term written before) and no chart object owns.
    const expected = new Set(['ServiceAccount/default', 'ConfigMap/kube-root-ca.crt', 'Secret/edgeplane-trust', 'Secret/redis-auth', `Lease/${LEASE}`]);
    const unexpected = left.filter((o) => !expected.has(o) && !o.startsWith('Event/'));
    expect(unexpected).toEqual([]);
    for (const o of made) {
      expect((await kubeRequest(cluster, 'GET', `${collectionPath(o)}/${o.metadata.name}`)).status, `${o.kind}/${o.metadata.name}`).toBe(404);
    }
    for (const kind of ['clusterroles', 'clusterrolebindings']) {
      const res = await kubeRequest(cluster, 'GET', `/apis/rbac.authorization.k8s.io/v1/${kind}?labelSelector=app.kubernetes.io%2Finstance%3D${release.release}`);
      expect((res.body as { items: unknown[] }).items, kind).toEqual([]);
    }
    for (const crd of ['edgenodes.edgeplane.io', 'edgemodeldeployments.edgeplane.io']) {
      expect((await kubeRequest(cluster, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`)).status, crd).toBe(200);
    }
  });
}

/** `Kind/name` of every object in a namespace, over every namespaced kind the API server lists. */
async function namespacedObjects(cluster: KubeCluster, namespace: string): Promise<string[]> {
  interface Resources {
    resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[];
  }
  const versions = ['/api/v1'];
  const groups = (await kubeRequest(cluster, 'GET', '/apis')).body as { groups: { preferredVersion: { groupVersion: string } }[] };
  for (const g of groups.groups) versions.push(`/apis/${g.preferredVersion.groupVersion}`);
  const out: string[] = [];
  for (const base of versions) {
    const list = (await kubeRequest(cluster, 'GET', base)).body as Resources;
    for (const r of list.resources) {
      if (!r.namespaced || r.name.includes('/') || !r.verbs.includes('list')) continue;
      const res = await kubeRequest(cluster, 'GET', `${base}/namespaces/${namespace}/${r.name}`);
      if (res.status !== 200) continue;
      for (const item of (res.body as { items: { metadata: { name: string } }[] }).items) out.push(`${r.kind}/${item.metadata.name}`);
    }
  }
  return [...new Set(out)].sort();
}
