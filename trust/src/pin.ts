// The CA pin an agent checks before it trusts a server: sha256 of the CA's
// SubjectPublicKeyInfo, as kubeadm's discovery hash is.
import { createHash, X509Certificate } from 'node:crypto';

export const CA_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo (DER). */
export function caHash(certPem: string | Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
