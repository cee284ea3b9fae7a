import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../main.ts';

let work: string;
const at = (name: string) => join(work, name);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-sign-cli-'));
  writeFileSync(at('model.onnx'), Buffer.alloc(200_000, 7));
  writeFileSync(at('tampered.onnx'), Buffer.concat([Buffer.alloc(199_999, 7), Buffer.from([8])]));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.COSIGN_PASSWORD;
});

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('edgeplane model keygen, sign, verify', () => {
  it('generates a key pair, signs an artifact and verifies it; a tampered artifact fails with exit 1', async () => {
    process.env.COSIGN_PASSWORD = 'pw';
    const gen = await cli('model', 'keygen', '--out', at('keys'));
    expect(gen).toMatchObject({ code: 0, err: '' });
    expect(readFileSync(at('keys/cosign.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    expect(readFileSync(at('keys/cosign.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(statSync(at('keys/cosign.key')).mode & 0o777).toBe(0o600);

    const signed = await cli('model', 'sign', '--key', at('keys/cosign.key'), at('model.onnx'));
    expect(signed.code).toBe(0);
    expect(signed.out).toMatch(/^[A-Za-z0-9+/]+={0,2}\n$/);
    const toFile = await cli('model', 'sign', '--key', at('keys/cosign.key'), at('model.onnx'), '--output', at('model.sig'));
    expect(toFile).toMatchObject({ code: 0, out: '' });

    // The flag takes a file or the base64 itself, as cosign's verify-blob does.
    for (const sig of [at('model.sig'), signed.out.trim()]) {
      expect(await cli('model', 'verify', '--key', at('keys/cosign.pub'), '--signature', sig, at('model.onnx'))).toEqual({ code: 0, out: 'Verified OK\n', err: '' });
      const bad = await cli('model', 'verify', '--key', at('keys/cosign.pub'), '--signature', sig, at('tampered.onnx'));
      expect(bad).toMatchObject({ code: 1, out: '' });
      expect(bad.err).toMatch(/does not verify .*tampered\.onnx.*\[SIGNATURE_MISMATCH\]/);
    }
  });

  it('warns that an unset COSIGN_PASSWORD means an empty one, and signs with it unset', async () => {
    const gen = await cli('model', 'keygen', '--out', at('empty'));
    expect(gen.code).toBe(0);
    expect(gen.err).toMatch(/COSIGN_PASSWORD is not set/);
    expect((await cli('model', 'sign', '--key', at('empty/cosign.key'), at('model.onnx'))).code).toBe(0);
  });

  const rows: Array<{ name: string; argv: () => string[]; password?: string; code: number; err: RegExp }> = [
    { name: 'a wrong password', argv: () => ['model', 'sign', '--key', at('keys/cosign.key'), at('model.onnx')], password: 'nope', code: 1, err: /wrong password.*\[KEY_PASSWORD\]/ },
    { name: 'keygen over an existing pair', argv: () => ['model', 'keygen', '--out', at('keys')], code: 1, err: /--force.*\[OUTPUT_EXISTS\]/ },
    { name: 'sign without --key', argv: () => ['model', 'sign', at('model.onnx')], code: 2, err: /--key .* is required/ },
    { name: 'verify without --signature', argv: () => ['model', 'verify', '--key', at('keys/cosign.pub'), at('model.onnx')], code: 2, err: /--signature .* is required/ },
    { name: 'a missing key file', argv: () => ['model', 'verify', '--key', at('nope.pub'), '--signature', 'AAAA', at('model.onnx')], code: 2, err: /--key .*nope\.pub: ENOENT/ },
    { name: 'a signature that is not one', argv: () => ['model', 'verify', '--key', at('keys/cosign.pub'), '--signature', 'not-a-signature', at('model.onnx')], code: 1, err: /\[SIGNATURE_MALFORMED\]/ },
    { name: 'the private key given to verify', argv: () => ['model', 'verify', '--key', at('keys/cosign.key'), '--signature', at('model.sig'), at('model.onnx')], code: 1, err: /\[KEY_INVALID\]/ },
  ];
  for (const r of rows) {
    it(`refuses ${r.name}`, async () => {
      if (r.password !== undefined) process.env.COSIGN_PASSWORD = r.password;
      const res = await cli(...r.argv());
      expect(res.code).toBe(r.code);
      expect(res.err).toMatch(r.err);
      expect(res.out).toBe('');
    });
  }

  it('prints the usage with --help', async () => {
    const res = await cli('model', 'sign', '--help');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/sign --key <cosign.key\|key.pem> <artifact>/);
    expect(res.out).toMatch(/verify --key <cosign.pub> --signature/);
  });
});
