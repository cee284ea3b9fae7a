// ECDSA-SHA256 signatures over an artifact's bytes, as `cosign sign-blob --key` makes them:
// ASN.1 DER, exchanged as standard base64. The file is hashed as a stream, so a model of any
// size signs and verifies in constant memory.
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ModelError } from '../errors.ts';

/** Longest DER ECDSA signature we accept (P-521's is 139 bytes; P-256's at most 72). */
export const MAX_SIGNATURE_BYTES = 139;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

async function feed(path: string, sink: { update(chunk: Buffer): unknown }): Promise<void> {
  try {
    for await (const chunk of createReadStream(path)) sink.update(chunk as Buffer);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new ModelError('BAD_ARGUMENT', `cannot read the artifact ${path}: ${code}`, { cause });
  }
}

/** The DER signature of the file's bytes. */
export async function signFile(path: string, key: KeyObject): Promise<Buffer> {
  const signer = createSign('sha256');
  await feed(path, signer);
  return signer.sign({ key, dsaEncoding: 'der' });
}

/** True when the DER signature verifies over the file's bytes with the key. */
export async function verifyFile(path: string, signature: Uint8Array, key: KeyObject): Promise<boolean> {
  const verifier = createVerify('sha256');
  await feed(path, verifier);
  try {
    return verifier.verify({ key, dsaEncoding: 'der' }, signature);
  } catch {
    // OpenSSL refuses DER it cannot parse; to a verifier that is just "does not verify".
    return false;
  }
}

export function encodeSignature(der: Uint8Array): string {
  return Buffer.from(der).toString('base64');
}

/**
 * A signature file's content as DER: base64 text (cosign's `--output-signature`, ours) or
 * raw DER bytes (`openssl dgst -sign`).
 */
export function decodeSignature(content: Uint8Array, what = 'the signature'): Buffer {
  const text = Buffer.from(content).toString('latin1').trim();
  let der: Buffer;
  if (BASE64.test(text)) der = Buffer.from(text, 'base64');
  else if (content[0] === 0x30) der = Buffer.from(content);
  else throw new ModelError('SIGNATURE_MALFORMED', `${what} is neither base64 nor DER`);
  if (der.byteLength < 8 || der.byteLength > MAX_SIGNATURE_BYTES || der[0] !== 0x30) {
    throw new ModelError('SIGNATURE_MALFORMED', `${what} is not a DER ECDSA signature (${der.byteLength} bytes)`);
  }
  return der;
}
