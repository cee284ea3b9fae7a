import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTrustMaterial, issueClientCreds } from '@edgeplane/trust';
import { natsSecurity, NatsAccessError } from './nats-access.ts';

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
