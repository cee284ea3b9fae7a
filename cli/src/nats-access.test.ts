import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTrustMaterial, issueClientCreds } from '@edgeplane/trust';
import type { PeerCertificate } from 'node:tls';
import { addressIdentityCheck, natsSecurity, NatsAccessError, serverAddresses } from './nats-access.ts';

const dir = mkdtempSync(join(tmpdir(), 'ep-nats-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('natsSecurity', () => {
  it('is empty without files: the server decides whether anonymous plain NATS is allowed', async () => {
    expect(await natsSecurity({})).toEqual({});
  });

  it('reads a credentials file into an authenticator and a CA into TLS options', async () => {
    const text = await issueClientCreds(createTrustMaterial({ certPem: 'unused', keyPem: 'unused' }), 'client');
    const creds = join(dir, 'client.creds');
    writeFileSync(creds, text);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const s = await natsSecurity({ creds, ca });
    // It answers a server's nonce with the file's JWT.
    const auth = typeof s.authenticator === 'function' ? s.authenticator('nonce') : undefined;
    expect(text).toContain((auth as { jwt?: string } | undefined)?.jwt ?? 'no jwt');
    expect(s.tls).toEqual({ ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
  });

  it('names the flag of a file it cannot read', async () => {
    const err = await natsSecurity({ ca: join(dir, 'missing.pem') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsAccessError);
    expect((err as NatsAccessError).flag).toBe('--nats-ca');
    expect((err as Error).message).toMatch(/^--nats-ca: cannot read .*missing\.pem: ENOENT$/);
  });
});

describe('servers reached by address', () => {
  // What Node sees of a server certificate naming a Service's DNS names and its ClusterIP.
  const cert = { subject: { CN: 'nats' }, subjectaltname: 'DNS:nats.nats.svc, IP Address:10.0.0.51' } as unknown as PeerCertificate;

  it('finds the IP literals among the server URLs', () => {
    expect(serverAddresses('tls://10.0.0.51:4222, nats://nats.example:4222,[fd00::1]:4222,10.1.2.3')).toEqual(['10.0.0.51', 'fd00::1', '10.1.2.3']);
    expect(serverAddresses('tls://nats.example:4222')).toEqual([]);
  });

  it('accepts a certificate naming the address, though Node asks about localhost', () => {
    expect(addressIdentityCheck(['10.0.0.51'])('localhost', cert)).toBeUndefined();
  });

  it('refuses a certificate naming neither the host nor any given address', () => {
    expect(addressIdentityCheck(['10.0.0.52'])('localhost', cert)).toBeInstanceOf(Error);
    expect(addressIdentityCheck([])('localhost', cert)).toBeInstanceOf(Error);
  });

  it('checks a host name as usual', () => {
    expect(addressIdentityCheck([])('nats.nats.svc', cert)).toBeUndefined();
  });

  it('adds the check to TLS options only when a CA is given and a server is an address', async () => {
    const ca = join(dir, 'ca2.pem');
    writeFileSync(ca, 'pem');
    const byAddress = await natsSecurity({ ca, servers: 'tls://10.0.0.51:4222' });
    expect(typeof (byAddress.tls as { checkServerIdentity?: unknown }).checkServerIdentity).toBe('function');
    expect(await natsSecurity({ ca, servers: 'tls://nats.example:4222' })).toEqual({ tls: { ca: 'pem' } });
    expect(await natsSecurity({ servers: 'tls://10.0.0.51:4222' })).toEqual({});
  });
});
