// Connection sharing, against a local HTTPS server that counts TLS connections: what matters
// here is how many handshakes the client makes, not what the API server answers.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServerCert } from '../../../trust/src/certs.ts';
import { shareConnections } from './shared-dispatcher.ts';

let server: Server;
let url: string;
let caData: string;
let handshakes = 0;

beforeAll(async () => {
  const ca = await createCa('test ca');
  const cert = await issueServerCert(ca, { commonName: 'apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  caData = Buffer.from(ca.certPem).toString('base64');
  server = createServer({ cert: cert.certPem, key: cert.keyPem, keepAliveTimeout: 30_000 }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: req.url?.split('/').pop() } }));
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function kubeConfig(ca = caData): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData: ca, skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function handshakesFor(kc: KubeConfig, calls: number, atOnce: number): Promise<number> {
  const before = handshakes;
  const core = kc.makeApiClient(CoreV1Api);
  for (let done = 0; done < calls; done += atOnce) {
    const names = await Promise.all(Array.from({ length: Math.min(atOnce, calls - done) }, (_, i) => core.readNamespace({ name: `ns-${done + i}` })));
    expect(names.map((n) => n.metadata?.name)).toEqual(Array.from({ length: names.length }, (_, i) => `ns-${done + i}`));
  }
  return handshakes - before;
}

describe('shareConnections', () => {
  it('wraps this client-node version (false would mean a handshake per call again)', () => {
    expect(shareConnections(kubeConfig())).toBe(true);
  });

  // undici hands a connection back to its pool a moment after the body is read, so the next
  // call may open a second one; what matters is that the count does not grow with the calls.
  it('sends 50 sequential calls over at most two connections', async () => {
    const kc = kubeConfig();
    shareConnections(kc);
    expect(await handshakesFor(kc, 50, 1)).toBeLessThanOrEqual(2);
  });

  it('opens connections for calls in flight, not for calls made', async () => {
    const kc = kubeConfig();
    shareConnections(kc);
    expect(await handshakesFor(kc, 160, 8)).toBeLessThanOrEqual(16);
  });

  it('keeps its connections while the TLS options stay, and takes new ones when they change', async () => {
    const kc = kubeConfig();
    shareConnections(kc);
    expect(await handshakesFor(kc, 10, 1)).toBeGreaterThan(0);
    expect(await handshakesFor(kc, 10, 1)).toBe(0);
    // The same CA written differently: other options, so another dispatcher.
    kc.clusters[0] = { ...kc.clusters[0]!, caData: Buffer.from(`${Buffer.from(caData, 'base64').toString()}\n`).toString('base64') };
    expect(await handshakesFor(kc, 10, 1)).toBeGreaterThan(0);
  });

  it('without it, this client-node makes a handshake per call (the reason it exists)', async () => {
    expect(await handshakesFor(kubeConfig(), 5, 1)).toBe(5);
  });
});
