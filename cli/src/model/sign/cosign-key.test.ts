import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isModelError } from '../errors.ts';
import { COSIGN_KEY_PEM_TYPE, decryptCosignKey, encryptCosignKey, isCosignKey, pemBody } from './cosign-key.ts';

const der = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });

/** Rewrites the JSON inside a cosign key file. */
function editBody(pem: string, edit: (doc: Record<string, any>) => void): string {
  const doc = JSON.parse(pemBody(pem, COSIGN_KEY_PEM_TYPE)!.toString('utf8')) as Record<string, any>;
  edit(doc);
  const b64 = Buffer.from(JSON.stringify(doc)).toString('base64');
  return `-----BEGIN ${COSIGN_KEY_PEM_TYPE}-----\n${b64}\n-----END ${COSIGN_KEY_PEM_TYPE}-----\n`;
}

describe('cosign encrypted key file', () => {
  it('round-trips the PKCS#8 DER under a password and under an empty one', async () => {
    for (const password of ['correct horse', '']) {
      const pem = await encryptCosignKey(der, password);
      expect(isCosignKey(pem)).toBe(true);
      expect(await decryptCosignKey(pem, password)).toEqual(der);
    }
  });

  it('writes the layout cosign writes: block type, field order, scrypt and secretbox parameters', async () => {
    const pem = await encryptCosignKey(der, 'pw');
    expect(pem.startsWith(`-----BEGIN ${COSIGN_KEY_PEM_TYPE}-----\n`)).toBe(true);
    expect(pem.split('\n').slice(1, -2).every((line) => line.length <= 64)).toBe(true);
    const body = pemBody(pem, COSIGN_KEY_PEM_TYPE)!.toString('utf8');
    expect(body).toMatch(/^\{"kdf":\{"name":"scrypt","params":\{"N":32768,"r":8,"p":1\},"salt":"[^"]+"\},"cipher":\{"name":"nacl\/secretbox","nonce":"[^"]+"\},"ciphertext":"[^"]+"\}$/);
    const doc = JSON.parse(body) as { kdf: { salt: string }; cipher: { nonce: string }; ciphertext: string };
    expect(Buffer.from(doc.kdf.salt, 'base64').byteLength).toBe(32);
    expect(Buffer.from(doc.cipher.nonce, 'base64').byteLength).toBe(24);
    // secretbox adds a 16-byte authenticator.
    expect(Buffer.from(doc.ciphertext, 'base64').byteLength).toBe(der.byteLength + 16);
  });

  it('reads the block type cosign 1.x wrote', async () => {
    const pem = (await encryptCosignKey(der, 'pw')).replaceAll(COSIGN_KEY_PEM_TYPE, 'ENCRYPTED COSIGN PRIVATE KEY');
    expect(await decryptCosignKey(pem, 'pw')).toEqual(der);
  });

  const refused: Array<{ name: string; make: (pem: string) => string; password?: string; code: 'KEY_PASSWORD' | 'KEY_INVALID'; message?: RegExp }> = [
    { name: 'a wrong password', make: (p) => p, password: 'wrong', code: 'KEY_PASSWORD' },
    { name: 'an empty password for a protected key', make: (p) => p, password: '', code: 'KEY_PASSWORD' },
    {
      name: 'a flipped ciphertext byte',
      make: (p) => editBody(p, (d) => {
        const c = Buffer.from(d.ciphertext as string, 'base64');
        c[5]! ^= 1;
        d.ciphertext = c.toString('base64');
      }),
      code: 'KEY_PASSWORD',
    },
    { name: 'another salt', make: (p) => editBody(p, (d) => (d.kdf.salt = Buffer.alloc(32, 7).toString('base64'))), code: 'KEY_PASSWORD' },
    { name: 'scrypt parameters cosign never writes (unbounded memory)', make: (p) => editBody(p, (d) => (d.kdf.params.N = 2 ** 24)), code: 'KEY_INVALID', message: /kdf.params/ },
    { name: 'another kdf', make: (p) => editBody(p, (d) => (d.kdf.name = 'pbkdf2')), code: 'KEY_INVALID', message: /kdf.name/ },
    { name: 'another cipher', make: (p) => editBody(p, (d) => (d.cipher.name = 'aes-gcm')), code: 'KEY_INVALID', message: /cipher.name/ },
    { name: 'a short nonce', make: (p) => editBody(p, (d) => (d.cipher.nonce = 'AAAA')), code: 'KEY_INVALID', message: /cipher.nonce/ },
    { name: 'a body that is not JSON', make: () => `-----BEGIN ${COSIGN_KEY_PEM_TYPE}-----\nbm90IGpzb24=\n-----END ${COSIGN_KEY_PEM_TYPE}-----\n`, code: 'KEY_INVALID', message: /not JSON/ },
    { name: 'no block at all', make: () => 'hello', code: 'KEY_INVALID', message: /no ENCRYPTED SIGSTORE PRIVATE KEY block/ },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} with ${r.code}`, async () => {
      const pem = r.make(await encryptCosignKey(der, 'pw'));
      const err = await decryptCosignKey(pem, r.password ?? 'pw').catch((e: unknown) => e);
      expect(isModelError(err, r.code)).toBe(true);
      if (r.message) expect((err as Error).message).toMatch(r.message);
    });
  }
});
