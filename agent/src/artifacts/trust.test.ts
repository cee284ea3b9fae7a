import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSignatureInvalidError, isSignatureMissingError } from '../workloads/errors.ts';
import { reasonOf, isTerminalReason } from '../workloads/reasons.ts';
import { TrustPolicy, isTrustKeyError, parsePublicKey, type TrustedKey } from './trust.ts';

const pair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signer = pair();
const stranger = pair();
const trusted = (k: KeyObject, source = 'cosign.pub'): TrustedKey => parsePublicKey(k.export({ type: 'spki', format: 'pem' }).toString(), source);
const bytes = randomBytes(50_000);
const sigOf = (data: Uint8Array, key: KeyObject = signer.privateKey) => sign('sha256', data, { key, dsaEncoding: 'der' }).toString('base64');
const tampered = Buffer.from(bytes);
tampered[123]! ^= 1;

type Outcome = 'loads' | 'SignatureMissing' | 'SignatureInvalid';
function outcome(policy: TrustPolicy, signature: string | undefined, data: Uint8Array = bytes): Outcome {
  try {
    policy.verify({ name: 'int8', ...(signature !== undefined ? { signature } : {}) }, data);
    return 'loads';
  } catch (err) {
    if (isSignatureMissingError(err) || isSignatureInvalidError(err)) return reasonOf(err) as Outcome;
    throw err;
  }
}

describe('trust policy', () => {
  const required = new TrustPolicy(true, [trusted(signer.publicKey)]);
  const optional = new TrustPolicy(false, [trusted(signer.publicKey)]);
  const none = TrustPolicy.permissive();
  const rows: Array<{ name: string; policy: TrustPolicy; signature?: string; data?: Uint8Array; want: Outcome }> = [
    { name: 'required: signed by the trusted key', policy: required, signature: sigOf(bytes), want: 'loads' },
    { name: 'required: unsigned', policy: required, want: 'SignatureMissing' },
    { name: 'required: signed by another key', policy: required, signature: sigOf(bytes, stranger.privateKey), want: 'SignatureInvalid' },
    { name: 'required: artifact changed after signing', policy: required, signature: sigOf(bytes), data: tampered, want: 'SignatureInvalid' },
    { name: 'required: signature of other bytes', policy: required, signature: sigOf(tampered), want: 'SignatureInvalid' },
    { name: 'required: not base64', policy: required, signature: 'not base64!', want: 'SignatureInvalid' },
    { name: 'required: base64 that is not DER', policy: required, signature: Buffer.from('hello world').toString('base64'), want: 'SignatureInvalid' },
    { name: 'optional: unsigned is allowed', policy: optional, want: 'loads' },
    { name: 'optional: a present signature is still verified', policy: optional, signature: sigOf(bytes, stranger.privateKey), want: 'SignatureInvalid' },
    { name: 'optional: a good signature loads', policy: optional, signature: sigOf(bytes), want: 'loads' },
    { name: 'no keys: nothing to verify with', policy: none, signature: sigOf(bytes, stranger.privateKey), want: 'loads' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      expect(outcome(r.policy, r.signature, r.data)).toBe(r.want);
    });
  }

  it('accepts a signature any one of several trusted keys verifies, and says which', () => {
    const policy = new TrustPolicy(true, [trusted(stranger.publicKey, 'old.pub'), trusted(signer.publicKey, 'new.pub')]);
    expect(policy.verify({ name: 'int8', signature: sigOf(bytes) }, bytes)?.source).toBe('new.pub');
  });

  it('refuses an unsigned variant before anything is fetched', () => {
    expect(() => required.admit({ name: 'int8' })).toThrow(expect.objectContaining({ code: 'ARTIFACT_SIGNATURE_MISSING' }));
    expect(() => optional.admit({ name: 'int8' })).not.toThrow();
  });

  it('reports terminal reasons in one sentence naming the variant', () => {
    for (const [signature, reason] of [[undefined, 'SignatureMissing'], [sigOf(tampered), 'SignatureInvalid']] as const) {
      const err = (() => {
        try {
          required.verify({ name: 'int8', ...(signature ? { signature } : {}) }, bytes);
        } catch (e) {
          return e as Error;
        }
        throw new Error('expected a refusal');
      })();
      expect(reasonOf(err)).toBe(reason);
      expect(isTerminalReason(reason)).toBe(true);
      expect(err.message).toMatch(/variant int8/);
      expect(err.message.split('. ')).toHaveLength(1);
    }
  });

  it('refuses to require signatures with no trusted key', () => {
    expect(() => new TrustPolicy(true, [])).toThrow(expect.objectContaining({ code: 'TRUST_KEY_INVALID' }));
  });
});

describe('trusted key files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ep-trust-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads PEM public keys, and verifies a signature openssl made', async () => {
    const key = join(dir, 'openssl.pem');
    const pub = join(dir, 'openssl.pub');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
    writeFileSync(join(dir, 'model.onnx'), bytes);
    const der = execFileSync('openssl', ['dgst', '-sha256', '-sign', key, join(dir, 'model.onnx')]);
    const policy = await TrustPolicy.load({ requireSignature: true, publicKeys: [pub] });
    expect(policy.verify({ name: 'int8', signature: der.toString('base64') }, bytes)?.source).toBe(pub);
    expect(outcome(policy, der.toString('base64'), tampered)).toBe('SignatureInvalid');
  });

  const refused: Array<{ name: string; text?: string; message: RegExp }> = [
    { name: 'a missing file', message: /missing\.pub: cannot read: ENOENT/ },
    { name: 'a private key', text: signer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), message: /is a private key/ },
    { name: 'an RSA key', text: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), message: /rsa key; an ECDSA P-256 key/ },
    { name: 'a P-384 key', text: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), message: /ECDSA P-256/ },
    { name: 'text that is no key', text: 'hello', message: /not a PEM public key/ },
  ];
  for (const r of refused) {
    it(`refuses ${r.name}, naming the file`, async () => {
      const file = join(dir, r.text === undefined ? 'missing.pub' : `${r.name.replace(/\W+/g, '-')}.pub`);
      if (r.text !== undefined) writeFileSync(file, r.text);
      const err = await TrustPolicy.load({ requireSignature: false, publicKeys: [file] }).catch((e: unknown) => e);
      expect(isTrustKeyError(err)).toBe(true);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(r.message);
    });
  }
});
