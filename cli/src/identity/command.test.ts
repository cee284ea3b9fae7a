import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caHash, parseCredsFile, parseTrustMaterial, publicKey, readUserJwt } from '@edgeplane/trust';
import { decode } from '@nats-io/jwt';
import { main } from '../main.ts';
import { randomToken } from './tokens.ts';

const dir = mkdtempSync(join(tmpdir(), 'ep-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('help', () => {
  it.each([
    ['certs', '--help'],
    ['token', '--help'],
    ['token', 'create', '--help'],
    ['token', 'list', '--help'],
    ['token', 'delete', '--help'],
    ['node', '--help'],
    ['node', 'revoke', '--help'],
    ['creds', 'client', '--help'],
    ['creds', 'leaf', '--help'],
  ])('%s %s prints usage and exits 0', async (...argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(0);
    expect(r.out + r.err).toMatch(/^usage: edgeplane (certs|token|node|creds)/);
  });

  it('lists the groups', async () => {
    const r = await run('--help');
    for (const g of ['certs', 'token', 'node']) expect(r.err).toContain(`  ${g} `);
  });
});

describe('bad arguments are refused with the code and the usage, exit 2', () => {
  const trustFile = join(dir, 'no-such-trust.json');
  it.each([
    { argv: ['token', 'create'], says: '--trust-file F is required' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--ttl', '24'], says: '--ttl must be a duration' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--ttl', '10s'], says: '--ttl must be between 1m and 365d' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--max-uses', '0'], says: '--max-uses needs a whole number' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--node-pattern', 'gw-.*'], says: '--node-pattern must be a glob' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--node-pattern', 'a', '--node-name-pattern', 'b'], says: 'not both' },
    { argv: ['token', 'create', '--trust-file', trustFile, '--bogus'], says: "Unknown option '--bogus'" },
    { argv: ['token', 'delete'], says: 'expected one token id' },
    { argv: ['node', 'revoke'], says: 'expected one node name' },
    { argv: ['node', 'revoke', 'Not_A_Node'], says: 'is not a node name' },
    { argv: ['certs'], says: '--out DIR is required' },
    { argv: ['creds', 'client'], says: 'expected one client name' },
    { argv: ['creds', 'client', 'Cam_1', '--trust-file', trustFile], says: 'expected one client name' },
    { argv: ['creds', 'client', 'cam-1'], says: '--trust-file F is required' },
    { argv: ['creds', 'leaf', 'Site_A', '--trust-file', trustFile, '--out-dir', dir], says: 'expected one site name' },
    { argv: ['creds', 'leaf', 'site-a', '--out-dir', dir], says: '--trust-file F is required' },
    { argv: ['creds', 'leaf', 'site-a', '--trust-file', trustFile], says: '--out-dir DIR is required' },
  ])('$argv', async ({ argv, says }) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(says);
    expect(r.err).toContain('[BAD_ARGUMENT]');
  });

  it('a trust file that cannot be read is named, exit 1', async () => {
    const r = await run('token', 'create', '--trust-file', trustFile);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--trust-file .*no-such-trust\.json: ENOENT \[TRUST_FILE\]/);
  });
});

describe('edgeplane certs', () => {
  const out = join(dir, 'fleet');
  it('writes the material, secrets mode 0600, and prints the CA pin', async () => {
    const r = await run('certs', '--out', out, '--nats-host', 'nats.example', '--nats-host', '10.1.2.3');
    expect(r.code, r.err).toBe(0);
    const trust = parseTrustMaterial(readFileSync(join(out, 'trust.json'), 'utf8'));
    expect(r.out).toBe(`ca-hash: ${caHash(trust.ca.certPem)}\n`);
    const mode = (f: string) => (statSync(join(out, f)).mode & 0o777).toString(8);
    expect(Object.fromEntries(['trust.json', 'nats-server-key.pem', 'control-plane.creds', 'admin.creds', 'ca.pem', 'nats-server.pem', 'nats-trust.conf'].map((f) => [f, mode(f)]))).toEqual({
      'trust.json': '600',
      'nats-server-key.pem': '600',
      'control-plane.creds': '600',
      'admin.creds': '600',
      'ca.pem': '644',
      'nats-server.pem': '644',
      'nats-trust.conf': '644',
    });
    const conf = readFileSync(join(out, 'nats-trust.conf'), 'utf8');
    expect(conf).toMatch(/^operator: "ey/m);
    expect(conf).toContain(`dir: ${JSON.stringify(join(out, 'accounts'))}`);
    expect(conf).toContain(`cert_file: ${JSON.stringify(join(out, 'nats-server.pem'))}`);
    // The server chain ends with the CA agents pin.
    expect(readFileSync(join(out, 'nats-server.pem'), 'utf8').trim().endsWith(trust.ca.certPem.trim())).toBe(true);
  });

  it('refuses to replace the material without --force, and reuses it with --trust-file', async () => {
    const before = readFileSync(join(out, 'trust.json'), 'utf8');
    const again = await run('certs', '--out', out);
    expect(again.code).toBe(1);
    expect(again.err).toContain('[OUTPUT_EXISTS]');
    const reuse = await run('certs', '--out', join(dir, 'fleet2'), '--trust-file', join(out, 'trust.json'));
    expect(reuse.code, reuse.err).toBe(0);
    expect(parseTrustMaterial(readFileSync(join(dir, 'fleet2', 'trust.json'), 'utf8'))).toEqual(parseTrustMaterial(before));
    expect(reuse.out).toBe(`ca-hash: ${caHash(parseTrustMaterial(before).ca.certPem)}\n`);
  });
});

describe('random token parts', () => {
  it('are [a-z0-9] of the length asked', () => {
    for (let i = 0; i < 200; i++) expect(randomToken(16)).toMatch(/^[a-z0-9]{16}$/);
  });
  it('use every character of the alphabet', () => {
    let n = 0;
    const all = randomToken(36, () => n++ % 36);
    expect(new Set(all).size).toBe(36);
  });
});

describe('edgeplane creds client', () => {
  it('issues credentials in the clients account, mode 0600, expiring', async () => {
    const out = join(dir, 'fleet3');
    expect((await run('certs', '--out', out)).code).toBe(0);
    const trust = parseTrustMaterial(readFileSync(join(out, 'trust.json'), 'utf8'));
    const file = join(dir, 'cam-1.creds');
    const r = await run('creds', 'client', 'cam-1', '--trust-file', join(out, 'trust.json'), '--ttl', '7d', '--out', file);
    expect(r.code, r.err).toBe(0);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    const creds = parseCredsFile(readFileSync(file, 'utf8'));
    expect(creds).not.toBeNull();
    const claims = readUserJwt(creds!.jwt)!;
    expect(claims.name).toBe('cam-1');
    // The JWT library stamps iat itself while signing, after the expiry is computed: a second may tick between.
    expect(claims.expiresAtS! - claims.issuedAtS).toBeGreaterThanOrEqual(7 * 86_400 - 1);
    expect(claims.expiresAtS! - claims.issuedAtS).toBeLessThanOrEqual(7 * 86_400);
    const raw = decode<{ issuer_account?: string; pub?: { allow?: string[] } }>(creds!.jwt);
    expect(raw.nats.issuer_account).toBe(publicKey(trust.clients));
    expect(raw.nats.pub?.allow).toEqual(['ep.v1.infer.>']);
  });
});

describe('edgeplane creds leaf', () => {
  it('issues the fleet link and a system link scoped to account updates, mode 0600, expiring', async () => {
    const out = join(dir, 'fleet4');
    expect((await run('certs', '--out', out)).code).toBe(0);
    const trust = parseTrustMaterial(readFileSync(join(out, 'trust.json'), 'utf8'));
    const r = await run('creds', 'leaf', 'site-a', '--trust-file', join(out, 'trust.json'), '--ttl', '30d', '--out-dir', dir);
    expect(r.code, r.err).toBe(0);
    const read = (name: string) => {
      const file = join(dir, name);
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      const creds = parseCredsFile(readFileSync(file, 'utf8'))!;
      const c = readUserJwt(creds.jwt)!;
      expect(c.expiresAtS! - c.issuedAtS).toBeGreaterThanOrEqual(30 * 86_400 - 1);
      expect(c.expiresAtS! - c.issuedAtS).toBeLessThanOrEqual(30 * 86_400);
      return decode<{ issuer_account?: string; pub?: { allow?: string[] }; sub?: { allow?: string[] } }>(creds.jwt);
    };
    const fleet = read('leaf-site-a.creds');
    const system = read('leaf-site-a-system.creds');
    expect(fleet.name).toBe('leaf-site-a');
    expect(fleet.nats.issuer_account).toBe(publicKey(trust.fleet));
    // Signed by the system account itself, and able to hear account updates, nothing else.
    expect(system.iss).toBe(publicKey(trust.system));
    expect(system.nats.sub?.allow).toEqual(['$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE', '$SYS.ACCOUNT.*.CLAIMS.UPDATE', '$SYS._INBOX.>']);
    expect(r.out).toContain(`account: "${publicKey(trust.system)}"`);
    expect(r.out).toContain(`account: "${publicKey(trust.fleet)}"`);
  });
});
