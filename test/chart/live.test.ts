// The installed chart runs the real control plane: `helm install` into the shared API server,
// a token minted for the chart's ServiceAccount, and the control plane started with exactly
// the environment the chart's Deployment gives it (Secrets resolved). Leader election, the
// informers, the status write and the Event all go through the chart's RBAC, so a missing
// rule shows up here as a control plane that cannot do its job. NATS runs with JWT auth and
// TLS; the trust Secret an operator makes with `edgeplane certs` holds the control plane's
// credentials and the CA, and the files the pod would mount from it are written here.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1EnvVar, V1PodSpec } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { freePort, repoRoot, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { chartDir, helm } from './helm.ts';
import { kubeRequest, kubeMessage as message } from '@edgeplane/env';
import { ensureNamespace } from './kube-http.ts';

const kube = inject('kube');
const ns = 'chart-live';
const appsNs = 'chart-live-apps';
const release = 'chart-live';
const cpName = `${release}-edgeplane-control-plane`;
const scratch = mkdtempSync(join(tmpdir(), 'ep-chart-live-'));
let nats: NatsServer;
let redis: RedisServer;
let cp: ControlPlane | undefined;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The container's environment with secretKeyRef and fieldRef resolved, and $(VAR) expanded, as the kubelet does. */
async function resolveEnv(vars: V1EnvVar[], podName: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    let value = v.value;
    const secretRef = v.valueFrom?.secretKeyRef;
    if (secretRef) {
      const res = await kubeRequest(kube, 'GET', `/api/v1/namespaces/${ns}/secrets/${secretRef.name}`);
      if (res.status !== 200) throw new Error(`${v.name}: Secret ${secretRef.name}: HTTP ${res.status}`);
      const data = (res.body as { data?: Record<string, string> }).data ?? {};
      value = Buffer.from(data[secretRef.key] ?? '', 'base64').toString('utf8');
    } else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
      value = podName;
    } else if (v.valueFrom) {
      throw new Error(`${v.name}: unsupported valueFrom ${JSON.stringify(v.valueFrom)}`);
    }
    out[v.name] = (value ?? '').replace(/\$\((\w+)\)/g, (whole, name: string) => out[name] ?? whole);
  }
  return out;
}

/** The trust Secret's keys, as `edgeplane certs` writes them for the chart (`trust.existingSecret`). */
async function trustSecret(): Promise<Record<string, string>> {
  return {
    'trust.json': JSON.stringify(nats.trust),
    'ca.pem': readFileSync(nats.caFile!, 'utf8'),
    'control-plane.creds': readFileSync(await nats.credsFile('control-plane'), 'utf8'),
  };
}

/**
 * The container's Secret volumes written to local directories, as the kubelet mounts them;
 * returns each mount path with the local directory standing in for it.
 */
async function mountSecrets(pod: V1PodSpec): Promise<Map<string, string>> {
  const mounts = new Map<string, string>();
  for (const m of pod.containers[0]!.volumeMounts ?? []) {
    const secret = pod.volumes?.find((v) => v.name === m.name)?.secret;
    if (!secret?.secretName) continue;
    const res = await kubeRequest(kube, 'GET', `/api/v1/namespaces/${ns}/secrets/${secret.secretName}`);
    if (res.status !== 200) throw new Error(`volume ${m.name}: Secret ${secret.secretName}: HTTP ${res.status}`);
    const data = (res.body as { data?: Record<string, string> }).data ?? {};
    const local = join(scratch, 'mounts', m.name);
    mkdirSync(local, { recursive: true });
    const items = secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) writeFileSync(join(local, item.path), Buffer.from(data[item.key] ?? '', 'base64'), { mode: 0o600 });
    mounts.set(m.mountPath, local);
  }
  return mounts;
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats({ jetstream: true }), startRedis()]);
  await ensureNamespace(kube, ns);
  await ensureNamespace(kube, appsNs);
  // This run's material: any copy left by an earlier run names another server's CA.
  await kubeRequest(kube, 'DELETE', `/api/v1/namespaces/${ns}/secrets/edgeplane-trust`);
  const secret = await kubeRequest(kube, 'POST', `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'edgeplane-trust' },
    stringData: await trustSecret(),
  });
  if (secret.status !== 201) throw new Error(`trust Secret: HTTP ${secret.status} ${message(secret)}`);
  const res = await helm(
    [
      'install', release, chartDir, '-n', ns, '--kubeconfig', kube.kubeconfigPath,
      '--set', `nats.url=${nats.url}`, '--set', `redis.url=${redis.url}`,
      '--set', `controlPlane.watchNamespaces={${appsNs}}`,
      // Short timings keep the wait for the Lease short.
      '--set', 'controlPlane.leaderElection.leaseDurationMs=4000',
      '--set', 'controlPlane.leaderElection.renewDeadlineMs=3000',
      '--set', 'controlPlane.leaderElection.retryPeriodMs=500',
      '--set', 'controlPlane.logLevel=error',
    ],
    120_000,
  );
  if (res.code !== 0) throw new Error(`helm install: ${res.stderr}`);

  // What a pod of the Deployment would run with: its env, its ServiceAccount's token.
  const deployment = (await kubeRequest(kube, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/${cpName}`)).body as V1Deployment;
  const pod = deployment.spec!.template.spec!;
  const tokenRes = await kubeRequest(kube, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${pod.serviceAccountName}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 600 },
  });
  if (tokenRes.status !== 201) throw new Error(`TokenRequest: HTTP ${tokenRes.status} ${message(tokenRes)}`);
  const token = (tokenRes.body as { status: { token: string } }).status.token;
  const kubeconfig = parse(kube.kubeconfig) as { users: { user: { token: string } }[] };
  kubeconfig.users[0]!.user.token = token;
  const kubeconfigPath = join(scratch, 'kubeconfig');
  writeFileSync(kubeconfigPath, stringify(kubeconfig), { mode: 0o600 });

  const env = await resolveEnv(pod.containers[0]!.env ?? [], `${cpName}-live-0`);
  // Paths into a mounted Secret point at its local copy.
  const mounts = await mountSecrets(pod);
  for (const [name, value] of Object.entries(env)) {
    for (const [mountPath, local] of mounts) if (value.startsWith(`${mountPath}/`)) env[name] = local + value.slice(mountPath.length);
  }
  const parsed = parseConfig({
    env: { ...env, EP_KUBECONFIG: kubeconfigPath, EP_API_ADDR: `127.0.0.1:${await freePort()}` },
  });
  if (parsed.help) throw new Error('unexpected help');
  cp = await startControlPlane(parsed.config);
});

afterAll(async () => {
  await cp?.stop();
  await helm(['uninstall', release, '-n', ns, '--kubeconfig', kube.kubeconfigPath]);
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('the control plane under the chart RBAC', () => {
  it('takes the Lease in the release namespace', async () => {
    await until('leadership', async () => (cp!.isLeader() ? true : undefined));
    const lease = await kubeRequest(kube, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/edgeplane-control-plane`);
    expect(lease.status).toBe(200);
    expect((lease.body as { spec: { holderIdentity: string } }).spec.holderIdentity).toBe(`${cpName}-live-0`);
  });

  it('lists and watches its resources until ready', async () => {
    const body = await until('ready', async () => {
      const res = await fetch(`${cp!.address}/readyz`);
      return res.status === 200 ? ((await res.json()) as unknown) : undefined;
    });
    expect(body).toMatchObject({ ready: true });
  });

  it('writes the status of a deployment in a watched namespace and records an Event on it', async () => {
    const emd = parse(readFileSync(join(repoRoot, 'deploy', 'examples', 'camera-defect.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
    emd.metadata = { name: 'live-rbac', namespace: appsNs };
    const created = await kubeRequest(kube, 'POST', `/apis/edgeplane.io/v1alpha1/namespaces/${appsNs}/edgemodeldeployments`, emd);
    expect(created.status, message(created)).toBe(201);
    const generation = (created.body as { metadata: { generation: number } }).metadata.generation;
    const status = await until('status', async () => {
      const res = await kubeRequest(kube, 'GET', `/apis/edgeplane.io/v1alpha1/namespaces/${appsNs}/edgemodeldeployments/live-rbac`);
      const s = (res.body as { status?: { observedGeneration?: number; conditions?: { type: string }[] } }).status;
      return s?.observedGeneration === generation ? s : undefined;
    });
    expect(status.conditions?.map((c) => c.type)).toEqual(expect.arrayContaining(['Ready']));
    const events = await until('event', async () => {
      const res = await kubeRequest(kube, 'GET', `/apis/events.k8s.io/v1/namespaces/${appsNs}/events`);
      const items = (res.body as { items: { regarding?: { name?: string }; reason?: string }[] }).items.filter((e) => e.regarding?.name === 'live-rbac');
      return items.length ? items : undefined;
    });
    expect(events[0]?.reason).toBeTruthy();
  });
});
