// Interoperability with the real openssl CLI, which verifies and makes the same signatures as
// `cosign sign-blob --key` / `verify-blob`: ECDSA-SHA256 over the bytes, ASN.1 DER.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../main.ts';
import { generateKeyPair, loadPrivateKey } from './keys.ts';
import { encodeSignature, signFile } from './signature.ts';

let work: string;
const at = (name: string) => join(work, name);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-openssl-'));
  writeFileSync(at('model.onnx'), randomBytes(300_000));
  const tampered = readFileSync(at('model.onnx'));
  tampered[1000]! ^= 1;
  writeFileSync(at('tampered.onnx'), tampered);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function openssl(...args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('interoperability with openssl', () => {
  it('openssl verifies our signature, base64-decoded, with cosign.pub; and refuses it on a tampered artifact', async () => {
    const pair = await generateKeyPair('pw');
    writeFileSync(at('cosign.pub'), pair.publicPem);
    const sig = await signFile(at('model.onnx'), await loadPrivateKey(pair.privatePem, 'pw'));
    writeFileSync(at('model.sig'), encodeSignature(sig));
    writeFileSync(at('model.sig.der'), Buffer.from(readFileSync(at('model.sig'), 'utf8'), 'base64'));
    const ok = openssl('dgst', '-sha256', '-verify', at('cosign.pub'), '-signature', at('model.sig.der'), at('model.onnx'));
    expect(ok).toEqual({ code: 0, out: 'Verified OK\n' });
    const bad = openssl('dgst', '-sha256', '-verify', at('cosign.pub'), '-signature', at('model.sig.der'), at('tampered.onnx'));
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/Verification failure/);
  });

  for (const keygen of [
    { name: 'openssl ecparam (SEC1)', args: (out: string) => ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', out] },
    { name: 'openssl genpkey (PKCS#8)', args: (out: string) => ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out] },
  ]) {
    it(`edgeplane model verify accepts openssl dgst -sign signatures, and signs with a key from ${keygen.name}`, async () => {
      const key = at(`key-${keygen.name.length}.pem`);
      const pub = `${key}.pub`;
      execFileSync('openssl', keygen.args(key));
      execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
      execFileSync('openssl', ['dgst', '-sha256', '-sign', key, '-out', at('openssl.sig.der'), at('model.onnx')]);
      writeFileSync(at('openssl.sig'), readFileSync(at('openssl.sig.der')).toString('base64'));

      for (const sigFile of [at('openssl.sig.der'), at('openssl.sig')]) {
        expect(await cli('model', 'verify', '--key', pub, '--signature', sigFile, at('model.onnx'))).toEqual({ code: 0, out: 'Verified OK\n', err: '' });
        const bad = await cli('model', 'verify', '--key', pub, '--signature', sigFile, at('tampered.onnx'));
        expect(bad.code).toBe(1);
        expect(bad.err).toMatch(/SIGNATURE_MISMATCH/);
      }

      // The other way: our signature made with openssl's plain key, checked by openssl.
      const signed = await cli('model', 'sign', '--key', key, at('model.onnx'));
      expect(signed.code).toBe(0);
      writeFileSync(at('ours.sig.der'), Buffer.from(signed.out.trim(), 'base64'));
      expect(openssl('dgst', '-sha256', '-verify', pub, '-signature', at('ours.sig.der'), at('model.onnx'))).toEqual({ code: 0, out: 'Verified OK\n' });
    });
  }
});
