// Who may call what on the HTTP API, with a reviewer that stands in for the Kubernetes API:
// tokens it knows, and the permissions each user holds. The real TokenReview and
// SubjectAccessReview are exercised in test/security/http-auth.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics.ts';
import { ReviewUnavailableError } from '../errors.ts';
import type { Access, AccessReviewer, UserInfo } from '../kube/access-review.ts';
import { build, type BuildOptions } from './app.ts';
import { CachedAccessReview } from './auth-cache.ts';
import { bearerToken } from './auth.ts';
import type { ReadModel } from './read-model.ts';
import type { DeploymentSummary } from './schemas.ts';

const summary = (namespace: string, name: string): DeploymentSummary => ({
  namespace,
  name,
  replicas: 1,
  readyReplicas: 1,
  unplacedReplicas: 0,
  ready: '1/1',
  tiers: 'fp32',
  conditions: [],
});

const read: ReadModel = {
  nodes: async () => [],
  deployments: () => [summary('a', 'det'), summary('b', 'cls')],
  deployment: async () => null,
};

/** `verb resource namespace` strings each user holds; '*' in namespace: every namespace. */
const grants: Record<string, string[]> = {
  'reader-a': ['list edgemodeldeployments a', 'get edgemodeldeployments a'],
  lister: ['list edgemodeldeployments a'],
  admin: ['list edgemodeldeployments *', 'list edgenodes ', 'get edgenodes ', 'get /metrics'],
};
const tokens: Record<string, string> = { 'tok-reader-a': 'reader-a', 'tok-lister': 'lister', 'tok-admin': 'admin' };

function fakeReviewer(state: { down: boolean; authns: number; authzs: number }): AccessReviewer {
  return {
    async authenticate(token) {
      state.authns++;
      if (state.down) throw new ReviewUnavailableError('TokenReview', 'no answer within 5000 ms');
      const username = tokens[token];
      return username ? { username, groups: ['system:authenticated'] } : null;
    },
    async authorize(user: UserInfo, access: Access) {
      state.authzs++;
      if (state.down) throw new ReviewUnavailableError('SubjectAccessReview', 'no answer within 5000 ms');
      const held = grants[user.username] ?? [];
      const allowed =
        access.kind === 'path'
          ? held.includes(`${access.verb} ${access.path}`)
          : held.some((g) => {
              const [verb, resource, ns] = g.split(' ');
              return verb === access.verb && resource === access.resource && (ns === '*' || ns === (access.namespace ?? ''));
            });
      return { allowed };
    },
  };
}

function app(over: { metrics?: 'rbac' | 'none' } = {}) {
  const state = { down: false, authns: 0, authzs: 0 };
  const options: BuildOptions = {
    readiness: () => ({ ready: true, checks: {} }),
    registry: createMetrics().registry,
    read,
    auth: { mode: 'rbac', check: new CachedAccessReview(fakeReviewer(state)), metrics: over.metrics ?? 'rbac' },
  };
  return { app: build(options), state };
}

const rbac = app();
const openMetrics = app({ metrics: 'none' });
afterAll(() => Promise.all([rbac.app.close(), openMetrics.app.close()]));

const get = (url: string, token?: string, header?: string) =>
  rbac.app.inject({ url, headers: header ? { authorization: header } : token ? { authorization: `Bearer ${token}` } : {} });

describe('bearerToken', () => {
  const rows: { header: string | undefined; want: string | null }[] = [
    { header: 'Bearer abc.def-ghi', want: 'abc.def-ghi' },
    { header: 'bearer abc', want: 'abc' },
    { header: 'Bearer  abc ', want: 'abc' },
    { header: 'Basic dXNlcjpwYXNz', want: null },
    { header: 'Bearer', want: null },
    { header: 'Bearer a b', want: null },
    { header: `Bearer ${'x'.repeat(16 * 1024 + 1)}`, want: null },
    { header: undefined, want: null },
  ];
  it.each(rows)('$header -> $want', ({ header, want }) => {
    expect(bearerToken(header)).toBe(want);
  });
});

describe('HTTP API authentication and authorization', () => {
  it('keeps /healthz and /readyz open', async () => {
    expect((await get('/healthz')).statusCode).toBe(200);
    expect((await get('/readyz')).statusCode).toBe(200);
  });

  const rows: { name: string; url: string; token?: string; header?: string; status: number; code?: string; message?: RegExp }[] = [
    { name: 'no token', url: '/api/v1/deployments/a', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'not a bearer header', url: '/api/v1/deployments/a', header: 'Basic dXNlcjpwYXNz', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'an unknown token', url: '/api/v1/deployments/a', token: 'garbage', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'an unknown route without a token', url: '/api/v1/nothing', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'metrics without a token', url: '/metrics', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'list in a granted namespace', url: '/api/v1/deployments/a', token: 'tok-lister', status: 200 },
    { name: 'list in another namespace', url: '/api/v1/deployments/b', token: 'tok-lister', status: 403, code: 'FORBIDDEN', message: /user "lister" cannot list edgemodeldeployments\.edgeplane\.io in namespace "b"/ },
    { name: 'list in every namespace without cluster-wide list', url: '/api/v1/deployments', token: 'tok-reader-a', status: 403, code: 'FORBIDDEN', message: /list edgemodeldeployments\.edgeplane\.io in all namespaces/ },
    { name: 'get with list only', url: '/api/v1/deployments/a/det', token: 'tok-lister', status: 403, code: 'FORBIDDEN', message: /get edgemodeldeployments\.edgeplane\.io "det" in namespace "a"/ },
    { name: 'get with get', url: '/api/v1/deployments/a/det', token: 'tok-reader-a', status: 404, code: 'DEPLOYMENT_NOT_FOUND' },
    { name: 'nodes without rights on them', url: '/api/v1/nodes', token: 'tok-reader-a', status: 403, code: 'FORBIDDEN', message: /list edgenodes\.edgeplane\.io$/ },
    { name: 'one node without rights on it', url: '/api/v1/nodes/n1', token: 'tok-reader-a', status: 403, code: 'FORBIDDEN', message: /get edgenodes\.edgeplane\.io "n1"$/ },
    { name: 'metrics without get on /metrics', url: '/metrics', token: 'tok-reader-a', status: 403, code: 'FORBIDDEN', message: /get \/metrics/ },
    { name: 'cluster-wide list', url: '/api/v1/deployments', token: 'tok-admin', status: 200 },
    { name: 'nodes', url: '/api/v1/nodes', token: 'tok-admin', status: 200 },
    { name: 'metrics', url: '/metrics', token: 'tok-admin', status: 200 },
    { name: 'an unknown route with a valid token', url: '/api/v1/nothing', token: 'tok-lister', status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'a parameter over its limit, before any authorization', url: `/api/v1/deployments/${'x'.repeat(64)}`, token: 'tok-lister', status: 400, code: 'BAD_REQUEST' },
  ];
  it.each(rows)('$status $code for $name', async (row) => {
    const res = await get(row.url, row.token, row.header);
    expect(res.statusCode).toBe(row.status);
    if (row.code) expect(res.json().code).toBe(row.code);
    if (row.message) expect(res.json().message).toMatch(row.message);
    if (row.status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    else expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('lists only the namespace asked for', async () => {
    const res = await get('/api/v1/deployments/a', 'tok-lister');
    expect(res.json().items.map((d: DeploymentSummary) => `${d.namespace}/${d.name}`)).toEqual(['a/det']);
  });

  it('serves /metrics to anyone when metricsAuth is none, and nothing else', async () => {
    expect((await openMetrics.app.inject('/metrics')).statusCode).toBe(200);
    expect((await openMetrics.app.inject('/api/v1/nodes')).statusCode).toBe(401);
  });

  it('answers 503 when the Kubernetes API cannot review, and caches no failure', async () => {
    const { app: a, state } = app();
    state.down = true;
    const down = await a.inject({ url: '/api/v1/deployments/a', headers: { authorization: 'Bearer tok-lister' } });
    expect([down.statusCode, down.json().code]).toEqual([503, 'AUTH_UNAVAILABLE']);
    state.down = false;
    const up = await a.inject({ url: '/api/v1/deployments/a', headers: { authorization: 'Bearer tok-lister' } });
    expect(up.statusCode).toBe(200);
    await a.close();
  });

  it('reviews a token and a permission once while the answer is fresh', async () => {
    const { app: a, state } = app();
    const call = () => a.inject({ url: '/api/v1/deployments/a', headers: { authorization: 'Bearer tok-lister' } });
    const answers = await Promise.all([call(), call(), call()]);
    await call();
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect([state.authns, state.authzs]).toEqual([1, 1]);
    await a.close();
  });

  it('refuses to register a route that declares no access rule', async () => {
    const { app: a } = app();
    const register = async () => {
      a.get('/api/v1/open-by-mistake', async () => ({ ok: true }));
      await a.ready();
    };
    await expect(register()).rejects.toThrow(/declares no access/);
  });
});
