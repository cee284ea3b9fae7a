import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issueBootstrapJwt } from '@edgeplane/trust';
import { chooseCredentials, planIdentity, type IdentitySettings } from './bootstrap.ts';
import type { LoadedCredentials } from './creds-store.ts';
import { saveCredentials } from './creds-store.ts';
import { isCredentialsError, isJoinTokenError, isNoIdentityError } from './errors.ts';
import { testCredential, testTrust } from './test-credentials.ts';

const log = pino({ level: 'silent' });
const NOW_S = 1_800_000_000;

const cred = (name: string, subject: string, issuedAtS: number, expiresAtS: number | null, file = `${name}-${subject}-${issuedAtS}`): LoadedCredentials => ({
  jwt: 'j',
  seed: 's',
  file,
  tightened: false,
  claims: { name, subject, issuedAtS, expiresAtS, tags: [] },
});

describe('chooseCredentials', () => {
  const live = NOW_S + 3600;
  const dead = NOW_S - 1;
  const rows: { name: string; flag: LoadedCredentials | null; stored: LoadedCredentials | null; canEnrol: boolean; want: { source: string; file: string; expired: boolean } | null }[] = [
    { name: 'nothing', flag: null, stored: null, canEnrol: true, want: null },
    { name: 'only --nats-creds', flag: cred('gw-a', 'U1', 1, live, 'F'), stored: null, canEnrol: false, want: { source: 'flag', file: 'F', expired: false } },
    { name: 'only the state dir', flag: null, stored: cred('gw-a', 'U1', 1, live, 'S'), canEnrol: true, want: { source: 'state', file: 'S', expired: false } },
    { name: 'a renewal of the flag key in the state dir', flag: cred('gw-a', 'U1', 1, live, 'F'), stored: cred('gw-a', 'U1', 5, live, 'S'), canEnrol: false, want: { source: 'state', file: 'S', expired: false } },
    { name: 'a flag file newer than the state dir', flag: cred('gw-a', 'U1', 9, live, 'F'), stored: cred('gw-a', 'U1', 5, live, 'S'), canEnrol: false, want: { source: 'flag', file: 'F', expired: false } },
    { name: 'another key given by the operator', flag: cred('gw-a', 'U2', 1, live, 'F'), stored: cred('gw-a', 'U1', 5, live, 'S'), canEnrol: false, want: { source: 'flag', file: 'F', expired: false } },
    { name: 'a state dir credential of another node', flag: null, stored: cred('gw-b', 'U1', 5, live, 'S'), canEnrol: true, want: null },
    { name: 'an expired state dir credential beside a live flag one', flag: cred('gw-a', 'U2', 1, live, 'F'), stored: cred('gw-a', 'U1', 5, dead, 'S'), canEnrol: false, want: { source: 'flag', file: 'F', expired: false } },
    { name: 'only an expired one, with a token to enrol', flag: null, stored: cred('gw-a', 'U1', 5, dead, 'S'), canEnrol: true, want: null },
    { name: 'only an expired one, and no way to enrol', flag: null, stored: cred('gw-a', 'U1', 5, dead, 'S'), canEnrol: false, want: { source: 'state', file: 'S', expired: true } },
    { name: 'a shared credential never expiring', flag: cred('control-plane', 'U3', 1, null, 'F'), stored: null, canEnrol: false, want: { source: 'flag', file: 'F', expired: false } },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = chooseCredentials('gw-a', r.flag, r.stored, NOW_S * 1000, r.canEnrol);
      expect(got && { source: got.source, file: got.credentials.file, expired: got.expired }).toEqual(r.want);
    });
  }
});

describe('planIdentity', () => {
  let dir: string;
  let settings: IdentitySettings;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ep-plan-'));
    settings = { node: 'gw-a', natsUrl: 'tls://127.0.0.1:4222', stateDir: join(dir, 'state') };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const joinToken = async () => `abc123.0123456789abcdef::${await issueBootstrapJwt(testTrust(), 'abc123', NOW_S + 3600)}`;

  it('refuses to start without credentials, a token or the insecure switch, saying what to pass', async () => {
    const err = await planIdentity(settings, log).catch((e: unknown) => e);
    expect(isNoIdentityError(err)).toBe(true);
    for (const flag of ['--bootstrap-token', '--ca-hash', '--nats-creds', '--insecure-nats']) expect((err as Error).message).toContain(flag);
  });

  it('goes without a credential only when told to', async () => {
    expect(await planIdentity({ ...settings, insecureNats: true }, log)).toEqual({ kind: 'insecure' });
  });

  it('enrols with a token given inline or in a file', async () => {
    const token = await joinToken();
    expect(await planIdentity({ ...settings, bootstrapToken: token }, log)).toMatchObject({ kind: 'enrol', join: { id: 'abc123' } });
    const file = join(dir, 'token');
    await writeFile(file, `${token}\n`);
    expect(await planIdentity({ ...settings, bootstrapTokenFile: file }, log)).toMatchObject({ kind: 'enrol', join: { id: 'abc123' } });
  });

  it('skips enrolment when the state dir holds this node credential, and reads no token then', async () => {
    const c = await testCredential({ node: 'gw-a' });
    await saveCredentials(settings.stateDir, c.jwt, c.seed);
    const plan = await planIdentity({ ...settings, bootstrapTokenFile: join(dir, 'gone') }, log);
    expect(plan).toMatchObject({ kind: 'credentials', source: 'state', credentials: { jwt: c.jwt } });
  });

  it('does not use a state dir credential of another node', async () => {
    const c = await testCredential({ node: 'gw-b' });
    await saveCredentials(settings.stateDir, c.jwt, c.seed);
    expect(isNoIdentityError(await planIdentity(settings, log).catch((e: unknown) => e))).toBe(true);
  });

  it('fails with typed errors on a missing credentials file or token file', async () => {
    const creds = await planIdentity({ ...settings, natsCreds: join(dir, 'missing.creds') }, log).catch((e: unknown) => e);
    expect(isCredentialsError(creds)).toBe(true);
    const token = await planIdentity({ ...settings, bootstrapTokenFile: join(dir, 'missing') }, log).catch((e: unknown) => e);
    expect(isJoinTokenError(token) && token.field).toBe('file');
  });
});
