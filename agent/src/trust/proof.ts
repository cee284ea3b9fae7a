// The node's own key: created on the node (its seed never leaves it) and used to prove, at
// enrolment, that the requester holds the key it asks a credential for.
import { nkeys } from '@nats-io/transport-node';
import { enrollProofText } from '@edgeplane/api';
import { signStatement } from '@edgeplane/trust';

export interface NodeKey {
  /** `SU...`: never logged, never sent; written only to the credentials file. */
  seed: string;
  /** `U...`. */
  publicKey: string;
}

export function createNodeKey(): NodeKey {
  const kp = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

export function publicKeyOf(seed: string): string {
  return nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/** Base64 nkey signature over `ep-enroll:<node>:<token id>:<public key>`. */
export function enrollProof(key: NodeKey, node: string, tokenId: string): string {
  return signStatement(key.seed, enrollProofText(node, tokenId, key.publicKey));
}
