// The agent's trust policy for model artifacts: which public keys may sign them and whether a
// signature is required. Signatures are cosign's (`sign-blob --key`): ECDSA P-256 over the
// artifact's bytes, DER, sent as base64. They are checked on the very bytes handed to the
// loader, after their sha256 was, so what runs is what was signed.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AssignedVariant } from '@edgeplane/api';
import { SignatureInvalidError, SignatureMissingError } from '../workloads/errors.ts';

export interface TrustSettings {
  /** Never load an artifact without a signature that a listed key verifies. */
  requireSignature: boolean;
  /** PEM files of the public keys (cosign.pub) that may sign artifacts. */
  publicKeys: readonly string[];
}

export interface TrustedKey {
  /** Where the key came from (its file), for logs. */
  source: string;
  key: KeyObject;
}

/** A key file that cannot serve: unreadable, not a PEM public key, or not ECDSA P-256. */
export class TrustKeyError extends Error {
  override readonly name = 'TrustKeyError';
  readonly code = 'TRUST_KEY_INVALID';
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(`trusted public key ${file}: ${detail}`, options);
    this.file = file;
  }
}
export const isTrustKeyError = (err: unknown): err is TrustKeyError => err instanceof TrustKeyError;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_KEY_FILE_CHARS = 64 * 1024;

/** A P-256 public key from PEM text; throws TrustKeyError naming `source`. */
export function parsePublicKey(text: string, source: string): TrustedKey {
  if (text.length > MAX_KEY_FILE_CHARS) throw new TrustKeyError(source, 'too large for a public key');
  // createPublicKey would derive a public key from a private one; a node must never hold that.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new TrustKeyError(source, 'is a private key; give the agent only the public key (cosign.pub)');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (cause) {
    throw new TrustKeyError(source, 'not a PEM public key', { cause });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TrustKeyError(source, `is a ${key.asymmetricKeyType ?? 'unknown'} key; an ECDSA P-256 key (as cosign generates) is required`);
  }
  return { source, key };
}

export class TrustPolicy {
  readonly requireSignature: boolean;
  readonly keys: readonly TrustedKey[];

  constructor(requireSignature: boolean, keys: readonly TrustedKey[]) {
    if (requireSignature && keys.length === 0) throw new TrustKeyError('(none)', 'signatures are required but no public key is trusted');
    this.requireSignature = requireSignature;
    this.keys = keys;
  }

  /** Trusts nothing and requires nothing: the behaviour of an agent given no policy. */
  static permissive(): TrustPolicy {
    return new TrustPolicy(false, []);
  }

  /** Reads the key files; throws TrustKeyError naming the first one that cannot serve. */
  static async load(settings: TrustSettings): Promise<TrustPolicy> {
    const keys: TrustedKey[] = [];
    for (const file of settings.publicKeys) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        throw new TrustKeyError(file, `cannot read: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
      }
      keys.push(parsePublicKey(text, file));
    }
    return new TrustPolicy(settings.requireSignature, keys);
  }

  /** Refuses, before anything is fetched, a variant that could never be admitted. */
  admit(variant: Pick<AssignedVariant, 'name' | 'signature'>): void {
    if (this.requireSignature && !variant.signature) throw new SignatureMissingError(variant.name);
  }

  /**
   * Checks the signature over the bytes about to be loaded: with keys, a present signature
   * must verify with one of them; with signatures required, one must be present. Returns the
   * key that verified, or null when there was nothing to check.
   */
  verify(variant: Pick<AssignedVariant, 'name' | 'signature'>, bytes: Uint8Array): TrustedKey | null {
    this.admit(variant);
    const signature = variant.signature;
    if (!signature || this.keys.length === 0) return null;
    const der = BASE64.test(signature) ? Buffer.from(signature, 'base64') : null;
    if (der && der.byteLength > 0) {
      for (const k of this.keys) {
        let ok = false;
        try {
          ok = verify('sha256', bytes, { key: k.key, dsaEncoding: 'der' }, der);
        } catch {
          // DER that OpenSSL cannot parse verifies with no key.
        }
        if (ok) return k;
      }
    }
    throw new SignatureInvalidError(variant.name, this.keys.length);
  }
}
