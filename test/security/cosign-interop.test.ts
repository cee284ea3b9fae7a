// Interoperability with the real cosign CLI (built from github.com/sigstore/cosign/v2 by
// @edgeplane/env), both ways: keys and signatures made by cosign are accepted by
// `edgeplane model sign` / `verify`, and ours by `cosign sign-blob` / `verify-blob --key`.
// An operator can therefore sign variants with either tool. Offline: no transparency log is
// written or read (`--tlog-upload=false`, `--insecure-ignore-tlog`), as for an air-gapped fleet.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goBinary } from '@edgeplane/env';
import { main as edgeplane } from '../../cli/src/main.ts';

const PASSWORD = 'correct horse';
let cosign: string;
let work: string;
const at = (name: string) => join(work, name);

beforeAll(() => {
  cosign = goBinary('cosign');
  work = mkdtempSync(join(tmpdir(), 'ep-cosign-'));
  mkdirSync(at('home'));
  writeFileSync(at('model.onnx'), randomBytes(300_000));
  const tampered = readFileSync(at('model.onnx'));
  tampered[1000]! ^= 1;
  writeFileSync(at('tampered.onnx'), tampered);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** cosign with its own HOME (its TUF cache), the key password, and no terminal. */
function runCosign(args: string[], password = PASSWORD): { code: number; out: string } {
  const r = spawnSync(cosign, args, {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: at('home'), COSIGN_PASSWORD: password },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function cli(argv: string[], password = PASSWORD): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.env.COSIGN_PASSWORD;
  process.env.COSIGN_PASSWORD = password;
  try {
    const code = await edgeplane(argv, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    if (saved === undefined) delete process.env.COSIGN_PASSWORD;
    else process.env.COSIGN_PASSWORD = saved;
  }
}

describe('interoperability with the cosign CLI', () => {
  it('cosign generate-key-pair: edgeplane signs with its cosign.key, cosign verify-blob accepts that signature and refuses it on a tampered artifact', async () => {
    mkdirSync(at('theirs'));
    expect(spawnSync(cosign, ['generate-key-pair'], { cwd: at('theirs'), encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: at('home'), COSIGN_PASSWORD: PASSWORD } }).status).toBe(0);

    const signed = await cli(['model', 'sign', '--key', at('theirs/cosign.key'), at('model.onnx')]);
    expect(signed.code).toBe(0);
    writeFileSync(at('ours.sig'), signed.out.trim());

    const ok = runCosign(['verify-blob', '--key', at('theirs/cosign.pub'), '--signature', at('ours.sig'), '--insecure-ignore-tlog=true', at('model.onnx')]);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/Verified OK/);
    const bad = runCosign(['verify-blob', '--key', at('theirs/cosign.pub'), '--signature', at('ours.sig'), '--insecure-ignore-tlog=true', at('tampered.onnx')]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/invalid signature/);
  });

  it('edgeplane model keygen: cosign sign-blob signs with its cosign.key, edgeplane model verify accepts that signature and refuses it on a tampered artifact', async () => {
    expect((await cli(['model', 'keygen', '--out', at('ours')])).code).toBe(0);

    const signed = runCosign(['sign-blob', '--key', at('ours/cosign.key'), '--tlog-upload=false', '--yes', '--output-signature', at('cosign.sig'), at('model.onnx')]);
    expect(signed.code, signed.out).toBe(0);

    expect(await cli(['model', 'verify', '--key', at('ours/cosign.pub'), '--signature', at('cosign.sig'), at('model.onnx')])).toEqual({ code: 0, out: 'Verified OK\n', err: '' });
    const bad = await cli(['model', 'verify', '--key', at('ours/cosign.pub'), '--signature', at('cosign.sig'), at('tampered.onnx')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/SIGNATURE_MISMATCH/);

    // Our encrypted key really is cosign's format: cosign refuses it under a wrong password.
    const wrong = runCosign(['sign-blob', '--key', at('ours/cosign.key'), '--tlog-upload=false', '--yes', at('model.onnx')], 'not the password');
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/decrypt/);
  });
});
