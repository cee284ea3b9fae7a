// The fleet's trust material: every seed and the CA, created once (`edgeplane certs`) and
// kept as one Secret. Public parts (JWTs, certificates) are derived from it on demand, so there
// is nothing else to keep in sync.
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/jwt';
import { z } from 'zod';
import type { CertificateAuthority } from './certs.ts';
import { nativeKeyPair } from './native-nkeys.ts';

const seed = (prefix: 'SO' | 'SA' | 'SU') =>
  z.string().regex(new RegExp(`^${prefix}[A-Z2-7]{56}$`), `must be an nkey seed starting with ${prefix}`);

export const TrustMaterial = z.object({
  v: z.literal(1),
  /** Operator identity; signs the operator JWT only. */
  operator: seed('SO'),
  /** Operator signing key; signs account JWTs, so revocations can be pushed without the identity key. */
  operatorSigning: seed('SO'),
  /** The system account and its user, through which account updates reach the server. */
  system: seed('SA'),
  systemUser: seed('SU'),
  /** The fleet account: agents, the control plane, the KV and object store. */
  fleet: seed('SA'),
  /** Signs control-plane and admin users (all rights in the fleet account). */
  fleetSigning: seed('SA'),
  /** Scoped signing key of the node role: users it signs get the node template, nothing else. */
  nodeSigning: seed('SA'),
  /** Scoped signing key of enrolment: bootstrap users. */
  bootstrapSigning: seed('SA'),
  /** Inference clients' account, which imports only the inference service. */
  clients: seed('SA'),
  clientsSigning: seed('SA'),
  ca: z.object({ certPem: z.string().min(1), keyPem: z.string().min(1) }),
});
export type TrustMaterial = z.infer<typeof TrustMaterial>;

const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());

/** New material around a CA made by `createCa` (in `@edgeplane/trust/certs`). */
export function createTrustMaterial(ca: CertificateAuthority): TrustMaterial {
  return {
    v: 1,
    operator: seedOf(createOperator()),
    operatorSigning: seedOf(createOperator()),
    system: seedOf(createAccount()),
    systemUser: seedOf(createUser()),
    fleet: seedOf(createAccount()),
    fleetSigning: seedOf(createAccount()),
    nodeSigning: seedOf(createAccount()),
    bootstrapSigning: seedOf(createAccount()),
    clients: seedOf(createAccount()),
    clientsSigning: seedOf(createAccount()),
    ca,
  };
}

export class TrustMaterialError extends Error {
  override readonly name = 'TrustMaterialError';
  readonly code = 'TrustMaterialInvalid';
}

/** Parses stored material; the error names the field, never a seed. */
export function parseTrustMaterial(text: string): TrustMaterial {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TrustMaterialError('trust material is not JSON');
  }
  const r = TrustMaterial.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new TrustMaterialError(`trust material: ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** The key pair of a seed, signing natively (see native-nkeys.ts). */
export const keyPair = (s: string): KeyPair => nativeKeyPair(s);
export const publicKey = (s: string): string => keyPair(s).getPublicKey();
