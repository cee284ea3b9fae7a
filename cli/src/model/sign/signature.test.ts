import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelError } from '../errors.ts';
import { generateKeyPair, loadPrivateKey, loadPublicKey } from './keys.ts';
import { decodeSignature, encodeSignature, signFile, verifyFile } from './signature.ts';

let work: string;
const artifact = () => join(work, 'model.onnx');
// Several stream chunks (64 KiB each), so the streaming hash is what is tested.
const bytes = randomBytes(1024 * 1024 + 17);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-sign-'));
  writeFileSync(artifact(), bytes);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('sign and verify', () => {
  it('verifies what it signed with the cosign key pair it generated', async () => {
    const pair = await generateKeyPair('pw');
    const sig = await signFile(artifact(), await loadPrivateKey(pair.privatePem, 'pw'));
    expect(await verifyFile(artifact(), sig, loadPublicKey(pair.publicPem))).toBe(true);
    // cosign prints standard base64 of the DER; decoding it gives the DER back.
    expect(decodeSignature(Buffer.from(`${encodeSignature(sig)}\n`))).toEqual(sig);
  });

  it('does not verify a tampered artifact, another key, or another signature', async () => {
    const pair = await generateKeyPair('');
    const other = await generateKeyPair('');
    const key = await loadPrivateKey(pair.privatePem, '');
    const sig = await signFile(artifact(), key);
    const tampered = join(work, 'tampered.onnx');
    const flipped = Buffer.from(bytes);
    flipped[flipped.byteLength - 3]! ^= 0x40;
    writeFileSync(tampered, flipped);
    expect(await verifyFile(tampered, sig, loadPublicKey(pair.publicPem))).toBe(false);
    expect(await verifyFile(artifact(), sig, loadPublicKey(other.publicPem))).toBe(false);
    const otherSig = await signFile(artifact(), await loadPrivateKey(other.privatePem, ''));
    expect(await verifyFile(artifact(), otherSig, loadPublicKey(pair.publicPem))).toBe(false);
  });

  it('treats an unparsable DER signature as not verifying', async () => {
    const pair = await generateKeyPair('');
    const junk = Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0xff]);
    expect(await verifyFile(artifact(), junk, loadPublicKey(pair.publicPem))).toBe(false);
  });

  it('names the file it cannot read', async () => {
    const pair = await generateKeyPair('');
    const err = await signFile(join(work, 'missing.onnx'), await loadPrivateKey(pair.privatePem, '')).catch((e: unknown) => e);
    expect(isModelError(err, 'BAD_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/missing\.onnx: ENOENT/);
  });
});

describe('decodeSignature', () => {
  const der = sign('sha256', Buffer.from('x'), { key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, dsaEncoding: 'der' });
  const rows: Array<{ name: string; input: Buffer; want?: Buffer; code?: 'SIGNATURE_MALFORMED' }> = [
    { name: 'base64 text', input: Buffer.from(der.toString('base64')), want: der },
    { name: 'base64 text with a trailing newline', input: Buffer.from(`${der.toString('base64')}\n`), want: der },
    { name: 'raw DER (openssl dgst -sign)', input: der, want: der },
    { name: 'text that is neither', input: Buffer.from('not a signature!'), code: 'SIGNATURE_MALFORMED' },
    { name: 'base64 of something that is not DER', input: Buffer.from(Buffer.from('hello world, hello').toString('base64')), code: 'SIGNATURE_MALFORMED' },
    { name: 'more bytes than any ECDSA signature', input: Buffer.from(Buffer.concat([Buffer.from([0x30]), randomBytes(200)]).toString('base64')), code: 'SIGNATURE_MALFORMED' },
    { name: 'empty', input: Buffer.alloc(0), code: 'SIGNATURE_MALFORMED' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (r.want) expect(decodeSignature(r.input)).toEqual(r.want);
      else expect(() => decodeSignature(r.input)).toThrow(expect.objectContaining({ code: r.code }));
    });
  }
});

describe('keys', () => {
  const pem = (type: 'ec' | 'rsa', curve?: string) => {
    const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: curve ?? 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    return pair;
  };

  it('reads plain PKCS#8 and SEC1 private keys, as openssl writes them', async () => {
    const { privateKey } = pem('ec');
    for (const type of ['pkcs8', 'sec1'] as const) {
      const key = await loadPrivateKey(privateKey.export({ type, format: 'pem' }).toString(), '');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
  });

  const refused: Array<{ name: string; run: () => Promise<unknown> | unknown; message: RegExp }> = [
    { name: 'a P-384 private key', run: () => loadPrivateKey(pem('ec', 'secp384r1').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), ''), message: /EC secp384r1 key; an ECDSA P-256 key is required/ },
    { name: 'an RSA private key', run: () => loadPrivateKey(pem('rsa').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), ''), message: /rsa key/ },
    { name: 'a password-protected PKCS#8 PEM', run: () => loadPrivateKey(pem('ec').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString(), 'x'), message: /password-protected PKCS#8/ },
    { name: 'text that is no key', run: () => loadPrivateKey('hello', ''), message: /neither a cosign key nor a private-key PEM/ },
    { name: 'a private key given as the public key', run: () => loadPublicKey(pem('ec').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), message: /is a private key/ },
    { name: 'an RSA public key', run: () => loadPublicKey(pem('rsa').publicKey.export({ type: 'spki', format: 'pem' }).toString()), message: /rsa key/ },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} with KEY_INVALID`, async () => {
      const err = await Promise.resolve().then(r.run).catch((e: unknown) => e);
      expect(isModelError(err, 'KEY_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(r.message);
    });
  }
});
