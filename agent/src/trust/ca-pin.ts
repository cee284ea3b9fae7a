// The CA pin check, pure: given the certificates a server sent (DER), find the CA whose
// SubjectPublicKeyInfo hash is the pin, as kubeadm's discovery hash works. The chain itself
// is not trusted here; the pinned CA is what later connections verify the server against.
import { X509Certificate } from 'node:crypto';
import { caHash } from '@edgeplane/trust';
import { CaPinMismatchError } from './errors.ts';

export interface PinnedCa {
  /** The CA certificate, PEM. */
  pem: string;
  hash: string;
}

/** Hashes of every certificate in the chain, in order, for the mismatch message. */
export function chainHashes(chain: readonly Uint8Array[]): string[] {
  return chain.map((der) => {
    try {
      return caHash(Buffer.from(der));
    } catch {
      return 'unparsable certificate';
    }
  });
}

/**
 * The certificate of `chain` whose SPKI hash equals `pin` and which is a CA. Throws
 * CaPinMismatchError naming the expected and the seen hashes otherwise.
 */
export function pickPinnedCa(server: string, chain: readonly Uint8Array[], pin: string): PinnedCa {
  const want = pin.toLowerCase();
  const hashes = chainHashes(chain);
  for (const [i, der] of chain.entries()) {
    if (hashes[i] !== want) continue;
    const cert = new X509Certificate(Buffer.from(der));
    // A pinned leaf would verify nothing: only a CA can anchor later connections.
    if (!cert.ca) throw new CaPinMismatchError(server, want, hashes.map((h, j) => (j === i ? `${h} (not a CA)` : h)));
    return { pem: cert.toString(), hash: want };
  }
  throw new CaPinMismatchError(server, want, hashes);
}

/** Whether a PEM CA on disk is the pinned one (a state dir kept across a CA rotation is not). */
export function pemMatchesPin(pem: string, pin: string): boolean {
  try {
    return caHash(pem) === pin.toLowerCase();
  } catch {
    return false;
  }
}
