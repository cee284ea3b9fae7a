// Operator and account JWTs, derived from the trust material. Account JWTs are deterministic
// except for their revocations, which the control plane adds when a node is revoked.
import { encodeAccount, encodeOperator, newScopedSigner, type Account } from '@nats-io/jwt';
import { keyPair, publicKey, type TrustMaterial } from './material.ts';
import { nodeTemplate } from './permissions.ts';

export const accountNames = { system: 'SYS', fleet: 'EDGEPLANE', clients: 'EDGEPLANE_CLIENTS' } as const;
export const roles = { node: 'node', bootstrap: 'bootstrap' } as const;

/** Revoked user public keys: a JWT for that key issued at or before the time (unix s) is refused. */
export type Revocations = Record<string, number>;

export async function operatorJwt(t: TrustMaterial): Promise<string> {
  return encodeOperator('edgeplane', keyPair(t.operator), {
    signing_keys: [publicKey(t.operatorSigning)],
    system_account: publicKey(t.system),
  });
}

const signer = (t: TrustMaterial) => ({ signer: keyPair(t.operatorSigning) });

export async function systemAccountJwt(t: TrustMaterial): Promise<string> {
  // Without limits the library's defaults allow no connection at all, and the system user
  // (which pushes revocations) could never connect.
  const account: Partial<Account> = {
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
  };
  return encodeAccount(accountNames.system, publicKey(t.system), account, signer(t));
}

export async function fleetAccountJwt(t: TrustMaterial, revocations: Revocations = {}): Promise<string> {
  const account: Partial<Account> = {
    limits: {
      subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
      // JetStream on, unlimited within the server's own limits (the KV and object store).
      mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1,
    },
    signing_keys: [
      publicKey(t.fleetSigning),
      newScopedSigner(publicKey(t.nodeSigning), roles.node, nodeTemplate()),
      // Bootstrap users carry their own permissions (per token), so this key is plain.
      publicKey(t.bootstrapSigning),
    ],
    exports: [{ name: 'inference', subject: 'ep.v1.infer.>', type: 'service', response_type: 'Singleton' }],
    ...(Object.keys(revocations).length ? { revocations } : {}),
  };
  return encodeAccount(accountNames.fleet, publicKey(t.fleet) , account, signer(t));
}

export async function clientsAccountJwt(t: TrustMaterial): Promise<string> {
  const account: Partial<Account> = {
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
    signing_keys: [publicKey(t.clientsSigning)],
    imports: [{ name: 'inference', subject: 'ep.v1.infer.>', account: publicKey(t.fleet), type: 'service' }],
  };
  return encodeAccount(accountNames.clients, publicKey(t.clients) , account, signer(t));
}

/** Drops revocations older than any JWT still valid could be (they revoke nothing any more). */
export function pruneRevocations(revocations: Revocations, nowS: number, maxJwtTtlS: number): Revocations {
  const out: Revocations = {};
  for (const [key, at] of Object.entries(revocations)) if (at > nowS - maxJwtTtlS) out[key] = at;
  return out;
}
