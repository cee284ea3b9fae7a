// Lease calls over the shared, kept-alive connections: a call the server never answers still
// times out, leaves the connections usable, and calls hanging elsewhere never hold a Lease call.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoordinationV1Api, CoreV1Api, KubeConfig, Observable, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServerCert } from '../../../trust/src/certs.ts';
import { LeaseTimeoutError } from '../errors.ts';
import { LeaseClient } from './lease-client.ts';
import { shareConnections } from './shared-dispatcher.ts';

let server: Server;
let url: string;
let caData: string;
/** While true, Lease requests get no answer. */
let leaseHangs = false;

beforeAll(async () => {
  const ca = await createCa('test ca');
  const cert = await issueServerCert(ca, { commonName: 'apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  caData = Buffer.from(ca.certPem).toString('base64');
  server = createServer({ cert: cert.certPem, key: cert.keyPem, keepAliveTimeout: 30_000 }, (req, res) => {
    // Namespaces never answer: requests that hang beside the Lease calls.
    if (req.url?.includes('/namespaces/hang')) return;
    if (req.url?.includes('/leases/') && leaseHangs) return;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'leader', namespace: 'ns', resourceVersion: '1' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function sharedKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData, skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  expect(shareConnections(kc)).toBe(true);
  return kc;
}

describe('LeaseClient over shared connections', () => {
  it('times out a Lease call the server never answers, then reads over the same client', async () => {
    const kc = sharedKubeConfig();
    const lease = new LeaseClient(kc.makeApiClient(CoordinationV1Api), { name: 'leader', namespace: 'ns' });
    expect((await lease.read(2000)).metadata?.name).toBe('leader');
    leaseHangs = true;
    const started = Date.now();
    await expect(lease.read(300)).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(Date.now() - started).toBeLessThan(1500);
    leaseHangs = false;
    expect((await lease.read(2000)).metadata?.resourceVersion).toBe('1');
  });

  it('answers a Lease call in time while 100 other calls hang on the same connections', async () => {
    const kc = sharedKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const abort = new AbortController();
    let settled = 0;
    const withAbort = {
      middleware: [
        {
          pre: (ctx: RequestContext) => {
            ctx.setSignal(abort.signal);
            return new Observable(Promise.resolve(ctx));
          },
          post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
        },
      ],
      middlewareMergeStrategy: 'append' as const,
    };
    const hanging = Array.from({ length: 100 }, (_, i) =>
      core
        .readNamespace({ name: `hang-${i}` }, withAbort)
        .catch(() => undefined)
        .finally(() => settled++),
    );
    // Give the hanging calls their connections first.
    await new Promise((r) => setTimeout(r, 200));
    const lease = new LeaseClient(kc.makeApiClient(CoordinationV1Api), { name: 'leader', namespace: 'ns' });
    // Generous for a loaded machine (100 handshakes just happened); queued behind the hanging
    // calls, it would never be answered.
    expect((await lease.read(5000)).metadata?.name).toBe('leader');
    expect(settled).toBe(0);
    abort.abort();
    await Promise.all(hanging);
  });
});
