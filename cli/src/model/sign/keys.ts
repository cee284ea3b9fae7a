// ECDSA P-256 key pairs as cosign keeps them: the private key in cosign's encrypted file, the
// public key as a PKIX `PUBLIC KEY` PEM. Private keys are also read from plain PEM (PKCS#8 or
// SEC1, as openssl writes them), so a key made with openssl signs too.
import { createPrivateKey, createPublicKey, generateKeyPair as generate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ModelError } from '../errors.ts';
import { decryptCosignKey, encryptCosignKey, isCosignKey } from './cosign-key.ts';

const generateEc = promisify(generate);

/** The one curve cosign's `generate-key-pair` makes, and the one we sign and verify with. */
export const CURVE = 'prime256v1';

export interface KeyPairFiles {
  /** `cosign.key`: cosign's encrypted private-key PEM. */
  privatePem: string;
  /** `cosign.pub`: PKIX public-key PEM. */
  publicPem: string;
}

function requireP256(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== CURVE) {
    const kind = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : key.asymmetricKeyType ?? 'unknown';
    throw new ModelError('KEY_INVALID', `${what} is a ${kind} key; an ECDSA P-256 key is required`);
  }
  return key;
}

export async function generateKeyPair(password: string): Promise<KeyPairFiles> {
  const { privateKey, publicKey } = await generateEc('ec', { namedCurve: CURVE });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return {
    privatePem: await encryptCosignKey(der, password),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A signing key from cosign's encrypted file (with the password) or a plain private-key PEM. */
export async function loadPrivateKey(text: string, password: string, what = 'the private key'): Promise<KeyObject> {
  if (isCosignKey(text)) {
    const der = await decryptCosignKey(text, password);
    try {
      return requireP256(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), what);
    } catch (cause) {
      if (cause instanceof ModelError) throw cause;
      throw new ModelError('KEY_INVALID', `${what}: the decrypted key is not PKCS#8`, { cause });
    }
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    throw new ModelError('KEY_INVALID', `${what} is a password-protected PKCS#8 PEM; use cosign's key format or a plain PEM`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new ModelError('KEY_INVALID', `${what} is neither a cosign key nor a private-key PEM`, { cause });
  }
  return requireP256(key, what);
}

/** A verification key from a PKIX `PUBLIC KEY` PEM (cosign.pub, `openssl ec -pubout`). */
export function loadPublicKey(text: string, what = 'the public key'): KeyObject {
  // createPublicKey would derive one from a private key; a private key has no place here.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new ModelError('KEY_INVALID', `${what} is a private key; give the public key (cosign.pub)`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new ModelError('KEY_INVALID', `${what} is not a public-key PEM`, { cause });
  }
  return requireP256(key, what);
}
