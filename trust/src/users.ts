// User JWTs: nodes (signed by the node role's scoped key), bootstrap users (one per token),
// the control plane and administrators, inference clients, and the system user.
import { createUser, encodeUser, fmtCreds, type KeyPair } from '@nats-io/jwt';
import { keyPair, publicKey, type TrustMaterial } from './material.ts';
import { bootstrapPermissions, clientPermissions } from './permissions.ts';

const nowS = () => Math.floor(Date.now() / 1000);

export interface NodeJwtOptions {
  node: string;
  /** The node's nkey public key (U...); its seed never leaves the node. */
  userPublicKey: string;
  /** `serve:` tags, one per deployment the node may serve. */
  tags: string[];
  ttlS: number;
}

export async function issueNodeJwt(t: TrustMaterial, o: NodeJwtOptions): Promise<string> {
  return encodeUser(o.node, o.userPublicKey, publicKey(t.fleet), { tags: [...o.tags].sort() }, {
    signer: keyPair(t.nodeSigning),
    scopedUser: true,
    exp: nowS() + o.ttlS,
  });
}

/**
 * A bearer JWT for one bootstrap token: it can send an enrolment request and read the reply,
 * and nats-server itself refuses it after the token's expiry.
 */
export async function issueBootstrapJwt(t: TrustMaterial, tokenId: string, expiresAtS: number): Promise<string> {
  return encodeUser(`bootstrap-${tokenId}`, createUser(), publicKey(t.fleet), { ...bootstrapPermissions(tokenId), bearer_token: true }, {
    signer: keyPair(t.bootstrapSigning),
    exp: expiresAtS,
  });
}

export type PrivilegedRole = 'control-plane' | 'admin';

/** Credentials file text (JWT + seed) for a fresh key. */
async function creds(jwtFor: (kp: KeyPair) => Promise<string>): Promise<string> {
  const kp = createUser();
  return new TextDecoder().decode(fmtCreds(await jwtFor(kp), kp));
}

/** The control plane and administrators: every right in the fleet account. */
export function issuePrivilegedCreds(t: TrustMaterial, role: PrivilegedRole, ttlS?: number): Promise<string> {
  return creds((kp) =>
    encodeUser(role, kp, publicKey(t.fleet), {}, { signer: keyPair(t.fleetSigning), ...(ttlS ? { exp: nowS() + ttlS } : {}) }),
  );
}

export function issueClientCreds(t: TrustMaterial, name: string, ttlS?: number): Promise<string> {
  return creds((kp) =>
    encodeUser(name, kp, publicKey(t.clients), clientPermissions(), { signer: keyPair(t.clientsSigning), ...(ttlS ? { exp: nowS() + ttlS } : {}) }),
  );
}

/** The system user, through which account updates (revocations) are pushed to the server. */
export async function systemUserCreds(t: TrustMaterial): Promise<string> {
  const kp = keyPair(t.systemUser);
  const jwt = await encodeUser('system', kp, keyPair(t.system), {});
  return new TextDecoder().decode(fmtCreds(jwt, kp));
}

/** Credentials file text for a node's own key and the JWT it was issued. */
export function nodeCreds(jwt: string, seed: string): string {
  return new TextDecoder().decode(fmtCreds(jwt, keyPair(seed)));
}
