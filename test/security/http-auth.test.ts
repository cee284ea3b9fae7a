// The control plane's HTTP API against the real kube-apiserver: bearer tokens reviewed with
// TokenReview, each request authorized with SubjectAccessReview. A ServiceAccount granted
// `list` on EdgeModelDeployments in namespace A (a Role and RoleBinding, as an operator would)
// lists A, and is refused B, single deployments, nodes and /metrics; no token or a made-up one
// is a 401; /healthz and /readyz stay open; /metrics follows metricsAuth.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { applyDeployment, detector, ensureNamespace, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { build } from '../../control-plane/src/api/app.ts';
import { CachedAccessReview } from '../../control-plane/src/api/auth-cache.ts';
import { kubeAccessReviewer } from '../../control-plane/src/kube/access-review.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';

const kube = inject('kube');
const kc = kubeConfig(kube);
const core = kc.makeApiClient(CoreV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const nsA = runId('auth-a');
const nsB = runId('auth-b');
const reader = 'emd-lister';
let nats: NatsServer;
let redis: RedisServer;
let cp: ControlPlane;
let readerToken = '';

/** Grants `verbs` on EdgeModelDeployments in `namespace` to the ServiceAccount, as an operator would. */
async function grantInNamespace(namespace: string, sa: { name: string; namespace: string }, verbs: string[]): Promise<void> {
  const name = `${sa.name}-emd`;
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [{ apiGroups: ['edgeplane.io'], resources: ['edgemodeldeployments'], verbs }] } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }] },
  });
}

/** A ServiceAccount and a token for it from the TokenRequest API. */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const req = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = req.status?.token;
  if (!token) throw new Error(`no token for ${namespace}/${name}`);
  return token;
}

async function get(base: string, path: string, token?: string): Promise<{ status: number; body: { code?: string; message?: string; items?: { namespace: string; name: string }[] }; text: string; authenticate: string | null }> {
  const res = await fetch(`${base}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body = {};
  try {
    body = JSON.parse(text) as object;
  } catch {
    // /metrics is text
  }
  return { status: res.status, body, text, authenticate: res.headers.get('www-authenticate') };
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await Promise.all([ensureNamespace(kc, nsA), ensureNamespace(kc, nsB)]);
  await applyDeployment(kc, detector(nsA, 'det', 1));
  await applyDeployment(kc, detector(nsB, 'det', 1));
  readerToken = await serviceAccountToken(nsA, reader);
  await grantInNamespace(nsA, { name: reader, namespace: nsA }, ['list']);
  cp = await startControlPlane(
    testConfig({
      natsUrl: nats.url,
      natsCreds: await nats.credsFile('control-plane'),
      natsCa: nats.caFile!,
      insecureNats: false,
      redisUrl: redis.url,
      kubeconfigPath: kube.kubeconfigPath,
      run: nsA,
      namespaces: [nsA, nsB],
      // The default: authentication on, /metrics behind RBAC.
      insecureNoAuth: false,
      metricsAuth: 'rbac',
    }),
  );
  await waitReady(cp.address);
});

afterAll(async () => {
  await cp?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('the control plane API with authentication on (the default)', () => {
  it('keeps /healthz and /readyz open', async () => {
    expect((await get(cp.address, '/healthz')).status).toBe(200);
    expect((await get(cp.address, '/readyz')).status).toBe(200);
  });

  it('answers 401 with WWW-Authenticate: Bearer without a token and with a made-up one', async () => {
    for (const token of [undefined, 'garbage', randomBytes(32).toString('base64url')]) {
      const res = await get(cp.address, `/api/v1/deployments/${nsA}`, token);
      expect([res.status, res.body.code], `token ${token}`).toEqual([401, 'UNAUTHENTICATED']);
      expect(res.authenticate).toMatch(/^Bearer /);
    }
  });

  it('lists namespace A for the ServiceAccount granted list there', async () => {
    const res = await get(cp.address, `/api/v1/deployments/${nsA}`, readerToken);
    expect(res.status).toBe(200);
    expect(res.body.items?.map((d) => `${d.namespace}/${d.name}`)).toEqual([`${nsA}/det`]);
  });

  const refused = () => [
    { what: 'namespace B', path: `/api/v1/deployments/${nsB}`, permission: `list edgemodeldeployments.edgeplane.io in namespace "${nsB}"` },
    { what: 'one deployment in A (list is not get)', path: `/api/v1/deployments/${nsA}/det`, permission: `get edgemodeldeployments.edgeplane.io "det" in namespace "${nsA}"` },
    { what: 'every namespace', path: '/api/v1/deployments', permission: 'list edgemodeldeployments.edgeplane.io in all namespaces' },
    { what: 'nodes', path: '/api/v1/nodes', permission: 'list edgenodes.edgeplane.io' },
    { what: 'one node', path: '/api/v1/nodes/n1', permission: 'get edgenodes.edgeplane.io "n1"' },
    { what: '/metrics', path: '/metrics', permission: 'get /metrics' },
  ];
  it('answers 403 naming the missing permission for everything else', async () => {
    for (const row of refused()) {
      const res = await get(cp.address, row.path, readerToken);
      expect([res.status, res.body.code], row.what).toEqual([403, 'FORBIDDEN']);
      expect(res.body.message).toBe(`user "system:serviceaccount:${nsA}:${reader}" cannot ${row.permission}`);
    }
  });

  it('serves /metrics and nodes to a user with the rights (the API server admin)', async () => {
    const metrics = await get(cp.address, '/metrics', kube.token);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('edgeplane_leader');
    expect((await get(cp.address, '/metrics')).status).toBe(401);
    expect((await get(cp.address, '/api/v1/nodes', kube.token)).status).toBe(200);
    expect((await get(cp.address, '/api/v1/deployments', kube.token)).body.items?.length).toBeGreaterThanOrEqual(2);
  });
});

/** The HTTP API alone, reviewing with the given credentials, listening on loopback. */
async function apiWith(reviewerConfig: KubeConfig, options: { metrics: 'rbac' | 'none'; ttlMs?: number }) {
  const app = build({
    readiness: () => ({ ready: true, checks: {} }),
    registry: createMetrics().registry,
    read: { nodes: async () => [], deployments: () => [], deployment: async () => null },
    auth: { mode: 'rbac', check: new CachedAccessReview(kubeAccessReviewer(reviewerConfig, { timeoutMs: 5000 }), { ttlMs: options.ttlMs ?? 10_000 }), metrics: options.metrics },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

function kubeConfigWithToken(token: string): KubeConfig {
  const cluster = kc.getCurrentCluster()!;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  return out;
}

describe('metricsAuth none', () => {
  it('serves /metrics without a token and still guards the API', async () => {
    const api = await apiWith(kc, { metrics: 'none' });
    try {
      expect((await get(api.base, '/metrics')).status).toBe(200);
      expect((await get(api.base, '/api/v1/nodes')).status).toBe(401);
      expect((await get(api.base, `/api/v1/deployments/${nsB}`, readerToken)).status).toBe(403);
    } finally {
      await api.close();
    }
  });
});

describe('failures and revocation', () => {
  it('answers 503 when the control plane itself may not create a TokenReview', async () => {
    // The reader's own credentials hold no right to review tokens: a broken RBAC setup.
    const api = await apiWith(kubeConfigWithToken(readerToken), { metrics: 'rbac' });
    try {
      const res = await get(api.base, `/api/v1/deployments/${nsA}`, readerToken);
      expect([res.status, res.body.code]).toEqual([503, 'AUTH_UNAVAILABLE']);
    } finally {
      await api.close();
    }
  });

  it('stops honouring a removed binding, then a deleted ServiceAccount, once the cached answer expires', async () => {
    const name = 'short-lived';
    const token = await serviceAccountToken(nsB, name);
    await grantInNamespace(nsB, { name, namespace: nsB }, ['list']);
    const api = await apiWith(kc, { metrics: 'rbac', ttlMs: 300 });
    try {
      expect((await get(api.base, `/api/v1/deployments/${nsB}`, token)).status).toBe(200);
      await rbac.deleteNamespacedRoleBinding({ namespace: nsB, name: `${name}-emd` });
      await new Promise((r) => setTimeout(r, 400));
      expect((await get(api.base, `/api/v1/deployments/${nsB}`, token)).status).toBe(403);
      // The API server keeps an accepted token 10 s in its own cache; ours adds 0.3 s here.
      await core.deleteNamespacedServiceAccount({ namespace: nsB, name });
      const deadline = Date.now() + 20_000;
      let status = 0;
      while (Date.now() < deadline && (status = (await get(api.base, `/api/v1/deployments/${nsB}`, token)).status) !== 401) {
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(status).toBe(401);
    } finally {
      await api.close();
    }
  }, 30_000);
});
