// Credentials of a site's leaf node. Its uplink binds two users at the hub: one in the fleet
// account, which carries the site's traffic (its agents' requests, their inference, the mirror of
// the assignments), and one in the system account, which carries account updates to the leaf's
// own resolver, so that a node revoked at the hub is refused at the site too.
import { createUser, encodeUser, fmtCreds, type KeyPair, type Permissions } from '@nats-io/jwt';
import { keyPair, publicKey, type TrustMaterial } from './material.ts';

const nowS = () => Math.floor(Date.now() / 1000);

/**
 * What the leaf's system-account link may do, seen from the leaf (nats-server reverses a leaf
 * user's permissions at the hub). It hears account updates and asks for the accounts it lacks
 * or missed (lookups and the resolver's periodic sync, answered on its own `$SYS._INBOX`); it
 * may answer an update request it heard. Nothing else crosses: no server events, no requests
 * to servers, no sync requests answered by the site.
 */
export function leafSystemPermissions(): Partial<Permissions> {
  return {
    pub: { allow: ['$SYS.REQ.CLAIMS.PACK', '$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP', '_INBOX.>'], deny: [] },
    sub: { allow: ['$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE', '$SYS.ACCOUNT.*.CLAIMS.UPDATE', '$SYS._INBOX.>'], deny: [] },
  };
}

export interface LeafCreds {
  /** The fleet-account link (`account:` the fleet account's public key). */
  fleet: string;
  /** The system-account link (`account:` the system account's public key). */
  system: string;
  fleetAccount: string;
  systemAccount: string;
}

const text = (jwt: string, kp: KeyPair) => new TextDecoder().decode(fmtCreds(jwt, kp));

/**
 * Both users of a site's leaf link, named `leaf-<site>`, each with a fresh key; either can be
 * revoked at the hub on its own, which cuts that site off and no other.
 */
export async function issueLeafCreds(t: TrustMaterial, site: string, ttlS?: number): Promise<LeafCreds> {
  const exp = ttlS ? { exp: nowS() + ttlS } : {};
  const fleetKey = createUser();
  const systemKey = createUser();
  // The fleet link carries every subject of the site's nodes and clients in both directions;
  // each agent behind the leaf is still held to its own node credential by the leaf server.
  const fleet = await encodeUser(`leaf-${site}`, fleetKey, publicKey(t.fleet), {}, { signer: keyPair(t.fleetSigning), ...exp });
  const system = await encodeUser(`leaf-${site}`, systemKey, keyPair(t.system), leafSystemPermissions(), exp);
  return { fleet: text(fleet, fleetKey), system: text(system, systemKey), fleetAccount: publicKey(t.fleet), systemAccount: publicKey(t.system) };
}
