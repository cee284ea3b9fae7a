// The reviews' timeout, against a socket that accepts and never answers; their answers from a
// real API server are checked in test/security/http-auth.test.ts.
import { createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isReviewUnavailableError } from '../errors.ts';
import { describeAccess, kubeAccessReviewer, type Access } from './access-review.ts';

let server: Server;
const sockets: Socket[] = [];
let port = 0;

beforeAll(async () => {
  server = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

function silentCluster(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'silent', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'silent', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

describe('kubeAccessReviewer', () => {
  it('gives up on a silent API server after its timeout, deciding nothing', async () => {
    const reviewer = kubeAccessReviewer(silentCluster(), { timeoutMs: 200 });
    const started = Date.now();
    const err = await reviewer.authenticate('some-token').catch((e: unknown) => e);
    expect(isReviewUnavailableError(err)).toBe(true);
    expect((err as Error).message).toBe('TokenReview failed: no answer within 200 ms');
    const denied = await reviewer.authorize({ username: 'u', groups: [] }, { kind: 'path', verb: 'get', path: '/metrics' }).catch((e: unknown) => e);
    expect(isReviewUnavailableError(denied)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('describeAccess', () => {
  const rows: { access: Access; want: string }[] = [
    { access: { kind: 'resource', verb: 'list', group: 'edgeplane.io', resource: 'edgemodeldeployments', namespace: 'a' }, want: 'list edgemodeldeployments.edgeplane.io in namespace "a"' },
    { access: { kind: 'resource', verb: 'get', group: 'edgeplane.io', resource: 'edgemodeldeployments', namespace: 'a', name: 'det' }, want: 'get edgemodeldeployments.edgeplane.io "det" in namespace "a"' },
    { access: { kind: 'resource', verb: 'list', group: 'edgeplane.io', resource: 'edgemodeldeployments', allNamespaces: true }, want: 'list edgemodeldeployments.edgeplane.io in all namespaces' },
    { access: { kind: 'resource', verb: 'list', group: 'edgeplane.io', resource: 'edgenodes' }, want: 'list edgenodes.edgeplane.io' },
    { access: { kind: 'resource', verb: 'get', group: '', resource: 'pods', namespace: 'x' }, want: 'get pods in namespace "x"' },
    { access: { kind: 'path', verb: 'get', path: '/metrics' }, want: 'get /metrics' },
  ];
  it.each(rows)('$want', ({ access, want }) => {
    expect(describeAccess(access)).toBe(want);
  });
});
