import { createServer, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caHash } from '@edgeplane/trust';
import { createCa, issueServerCert, type CertificateAuthority, type ServerCertificate } from '@edgeplane/trust/certs';
import { pemMatchesPin, pickPinnedCa } from './ca-pin.ts';
import { chainOf, discoverPinnedCa, fetchServerChain, serverAddress } from './ca-discovery.ts';
import { isCaDiscoveryError, isCaPinMismatchError, type CaPinMismatchError } from './errors.ts';

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
/** The certificates of a PEM bundle, in order, DER. */
const bundle = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(der);

let ca: CertificateAuthority;
let other: CertificateAuthority;
let server: ServerCertificate;

beforeAll(async () => {
  ca = await createCa('pin test CA');
  other = await createCa('another CA');
  server = await issueServerCert(ca, { commonName: 'nats', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
});

describe('pickPinnedCa', () => {
  it('finds the pinned CA in the chain the server sends (leaf first)', () => {
    const chain = bundle(server.certPem);
    expect(chain).toHaveLength(2);
    const picked = pickPinnedCa('tls://h:4222', chain, caHash(ca.certPem));
    expect(picked.hash).toBe(caHash(ca.certPem));
    expect(caHash(picked.pem)).toBe(caHash(ca.certPem));
    expect(new X509Certificate(picked.pem).ca).toBe(true);
  });

  it('takes an upper-case pin as the same pin', () => {
    expect(pickPinnedCa('tls://h:4222', bundle(server.certPem), caHash(ca.certPem).toUpperCase().replace('SHA256', 'sha256')).hash).toBe(caHash(ca.certPem));
  });

  it('refuses a chain without the pinned CA, naming the expected and every seen hash', () => {
    const chain = bundle(server.certPem);
    const want = caHash(other.certPem);
    let err: CaPinMismatchError | undefined;
    try {
      pickPinnedCa('tls://h:4222', chain, want);
    } catch (e) {
      if (isCaPinMismatchError(e)) err = e;
    }
    expect(err?.code).toBe('CA_PIN_MISMATCH');
    expect(err?.fatal).toBe(true);
    expect(err?.expected).toBe(want);
    expect(err?.seen).toEqual([caHash(Buffer.from(chain[0]!)), caHash(ca.certPem)]);
    expect(err?.message).toContain(want);
    expect(err?.message).toContain(caHash(ca.certPem));
  });

  it('refuses a pin that matches the server leaf, which is no CA', () => {
    const chain = bundle(server.certPem);
    const leafPin = caHash(Buffer.from(chain[0]!));
    expect(() => pickPinnedCa('tls://h:4222', chain, leafPin)).toThrow(/not a CA/);
  });

  it('says so when the chain is empty', () => {
    expect(() => pickPinnedCa('tls://h:4222', [], caHash(ca.certPem))).toThrow(/no certificate/);
  });

  it('checks a kept PEM against the pin', () => {
    expect(pemMatchesPin(ca.certPem, caHash(ca.certPem))).toBe(true);
    expect(pemMatchesPin(other.certPem, caHash(ca.certPem))).toBe(false);
    expect(pemMatchesPin('not a certificate', caHash(ca.certPem))).toBe(false);
  });
});

describe('serverAddress', () => {
  const rows = [
    { name: 'tls URL', url: 'tls://nats.example:4443', want: { host: 'nats.example', port: 4443 } },
    { name: 'nats URL, default port', url: 'nats://10.0.0.1', want: { host: '10.0.0.1', port: 4222 } },
    { name: 'IPv6', url: 'tls://[::1]:4222', want: { host: '::1', port: 4222 } },
  ];
  for (const r of rows) it(r.name, () => expect(serverAddress(r.url)).toMatchObject(r.want));
  it('refuses WebSocket URLs', () => expect(() => serverAddress('wss://h:443')).toThrow(/nats:\/\/ or tls:\/\//));
});

/** A loopback server that greets like NATS (INFO in plain text), then upgrades to TLS. */
async function fakeNats(info: object, cert?: ServerCertificate): Promise<{ url: string; close(): Promise<void>; received: () => number }> {
  let received = 0;
  const srv: Server = createServer((socket) => {
    socket.write(`INFO ${JSON.stringify(info)}\r\n`);
    if (!cert) return;
    const tls = new TLSSocket(socket, { isServer: true, key: cert.keyPem, cert: cert.certPem });
    tls.on('data', (d: Buffer) => (received += d.length));
    tls.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return { url: `tls://127.0.0.1:${port}`, received: () => received, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('fetchServerChain and discoverPinnedCa over a real socket', () => {
  let good: Awaited<ReturnType<typeof fakeNats>>;
  let plain: Awaited<ReturnType<typeof fakeNats>>;
  beforeAll(async () => {
    good = await fakeNats({ server_id: 'x', tls_required: true }, server);
    plain = await fakeNats({ server_id: 'y' });
  });
  afterAll(async () => {
    await good.close();
    await plain.close();
  });

  it('reads the INFO line, upgrades to TLS unverified and returns the chain, sending no application data', async () => {
    const chain = await fetchServerChain(good.url, 5000);
    expect(chain.map((c) => caHash(Buffer.from(c)))).toEqual(bundle(server.certPem).map((c) => caHash(Buffer.from(c))));
    expect(good.received()).toBe(0);
  });

  it('returns the pinned CA, and refuses another pin', async () => {
    expect((await discoverPinnedCa([good.url], caHash(ca.certPem))).hash).toBe(caHash(ca.certPem));
    await expect(discoverPinnedCa([good.url], caHash(other.certPem))).rejects.toSatisfy(isCaPinMismatchError);
  });

  it('tries the next server when one is unreachable', async () => {
    expect((await discoverPinnedCa(['tls://127.0.0.1:1', good.url], caHash(ca.certPem), 3000)).hash).toBe(caHash(ca.certPem));
  });

  it('fails, retryably, against a server without TLS or an unreachable one', async () => {
    await expect(fetchServerChain(plain.url, 3000)).rejects.toSatisfy((e: unknown) => isCaDiscoveryError(e) && /offers no TLS/.test((e as Error).message));
    await expect(discoverPinnedCa(['tls://127.0.0.1:1'], caHash(ca.certPem), 2000)).rejects.toSatisfy(isCaDiscoveryError);
  });

  it('walks a peer chain once even when the root points at itself', () => {
    const root = { raw: Buffer.from([1]), fingerprint256: 'root' } as never as Parameters<typeof chainOf>[0];
    (root as { issuerCertificate: unknown }).issuerCertificate = root;
    const leaf = { raw: Buffer.from([2]), fingerprint256: 'leaf', issuerCertificate: root } as never as Parameters<typeof chainOf>[0];
    expect(chainOf(leaf).map((c) => c[0])).toEqual([2, 1]);
  });
});
