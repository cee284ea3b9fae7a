// cosign's encrypted private-key file: a PEM block whose body is JSON
// `{kdf: {name: "scrypt", params: {N, r, p}, salt}, cipher: {name: "nacl/secretbox", nonce},
// ciphertext}` (byte fields in standard base64) sealing the key's PKCS#8 DER. Writing the same
// bytes cosign writes lets `cosign sign-blob --key` use our keys and us use cosign's.
import { randomBytes, scrypt } from 'node:crypto';
import nacl from 'tweetnacl';
import { ModelError } from '../errors.ts';

/** The block type `cosign generate-key-pair` writes (v2 and later). */
export const COSIGN_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** The block type cosign 1.x wrote; the body is the same. */
const COSIGN_V1_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** What we write: the parameters of cosign's key files (about 100 ms of work). */
export const SCRYPT_PARAMS: ScryptParams = { N: 32768, r: 8, p: 1 };
/**
 * What we read: the three sets cosign's library accepts (newer cosign writes N=65536). Any
 * other set is refused, so a crafted file cannot make us allocate without bound.
 */
const ACCEPTED_PARAMS: readonly ScryptParams[] = [SCRYPT_PARAMS, { N: 65536, r: 8, p: 1 }, { N: 131072, r: 8, p: 1 }];

const SALT_BYTES = 32;
const KEY_BYTES = nacl.secretbox.keyLength;
const NONCE_BYTES = nacl.secretbox.nonceLength;
const MAX_PEM_CHARS = 64 * 1024;

interface Envelope {
  kdf: { name: string; params: ScryptParams; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function deriveKey(password: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // OpenSSL needs about 128 * r * (N + p + 2) bytes; Node's default cap (32 MiB) is just
    // short of that at N=32768.
    const maxmem = 256 * params.N * params.r;
    scrypt(Buffer.from(password, 'utf8'), salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function pem(type: string, body: Uint8Array): string {
  const b64 = Buffer.from(body).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** The body of the first PEM block of the given type, or null when there is none. */
export function pemBody(text: string, type: string): Buffer | null {
  const begin = `-----BEGIN ${type}-----`;
  const start = text.indexOf(begin);
  if (start < 0) return null;
  const end = text.indexOf(`-----END ${type}-----`, start);
  if (end < 0) return null;
  const b64 = text.slice(start + begin.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  return Buffer.from(b64, 'base64');
}

/** True when the text holds a cosign encrypted private key (either block type). */
export function isCosignKey(text: string): boolean {
  return text.includes(`-----BEGIN ${COSIGN_KEY_PEM_TYPE}-----`) || text.includes(`-----BEGIN ${COSIGN_V1_PEM_TYPE}-----`);
}

/** Seals a PKCS#8 DER private key under the password (which may be empty), as cosign does. */
export async function encryptCosignKey(pkcs8Der: Uint8Array, password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(password, salt, SCRYPT_PARAMS);
  const ciphertext = nacl.secretbox(new Uint8Array(pkcs8Der), new Uint8Array(nonce), new Uint8Array(key));
  // Field order as Go's encoding/json writes the struct.
  const envelope: Envelope = {
    kdf: { name: 'scrypt', params: { N: SCRYPT_PARAMS.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return pem(COSIGN_KEY_PEM_TYPE, Buffer.from(JSON.stringify(envelope), 'utf8'));
}

function bytesField(value: unknown, field: string, length?: number): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw new ModelError('KEY_INVALID', `cosign key: ${field} must be base64`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (length !== undefined && bytes.byteLength !== length) {
    throw new ModelError('KEY_INVALID', `cosign key: ${field} must be ${length} bytes, got ${bytes.byteLength}`);
  }
  return new Uint8Array(bytes);
}

function parseEnvelope(text: string): { params: ScryptParams; salt: Uint8Array; nonce: Uint8Array; ciphertext: Uint8Array } {
  if (text.length > MAX_PEM_CHARS) throw new ModelError('KEY_INVALID', `cosign key: more than ${MAX_PEM_CHARS} characters`);
  const body = pemBody(text, COSIGN_KEY_PEM_TYPE) ?? pemBody(text, COSIGN_V1_PEM_TYPE);
  if (!body) throw new ModelError('KEY_INVALID', `cosign key: no ${COSIGN_KEY_PEM_TYPE} block`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new ModelError('KEY_INVALID', 'cosign key: the block is not JSON', { cause });
  }
  const e = doc as Partial<Envelope> | null;
  if (!e || typeof e !== 'object' || !e.kdf || !e.cipher) throw new ModelError('KEY_INVALID', 'cosign key: kdf and cipher are required');
  if (e.kdf.name !== 'scrypt') throw new ModelError('KEY_INVALID', `cosign key: kdf.name must be scrypt, got ${String(e.kdf.name)}`);
  if (e.cipher.name !== 'nacl/secretbox') throw new ModelError('KEY_INVALID', `cosign key: cipher.name must be nacl/secretbox, got ${String(e.cipher.name)}`);
  const p = e.kdf.params;
  const params = ACCEPTED_PARAMS.find((a) => p && a.N === p.N && a.r === p.r && a.p === p.p);
  if (!params) throw new ModelError('KEY_INVALID', `cosign key: kdf.params ${JSON.stringify(p)} are not ones cosign writes`);
  return {
    params,
    salt: bytesField(e.kdf.salt, 'kdf.salt'),
    nonce: bytesField(e.cipher.nonce, 'cipher.nonce', NONCE_BYTES),
    ciphertext: bytesField(e.ciphertext, 'ciphertext'),
  };
}

/**
 * The PKCS#8 DER inside a cosign key file. A wrong password and a modified file look the
 * same to the authenticated cipher: both are KEY_PASSWORD.
 */
export async function decryptCosignKey(text: string, password: string): Promise<Buffer> {
  const { params, salt, nonce, ciphertext } = parseEnvelope(text);
  const key = await deriveKey(password, salt, params);
  const plain = nacl.secretbox.open(ciphertext, nonce, new Uint8Array(key));
  if (!plain) throw new ModelError('KEY_PASSWORD', 'cannot decrypt the cosign key: wrong password (COSIGN_PASSWORD), or the file was modified');
  return Buffer.from(plain);
}
