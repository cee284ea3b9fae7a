// The node's own key: created on the node (its seed never leaves it) and used to prove, at
// enrolment, that the requester holds the key it asks a credential for.
import { enrollProofText } from '@edgeplane/api';
import { newUserKey, publicKey, signStatement } from '@edgeplane/trust';

export interface NodeKey {
  /** `SU...`: never logged, never sent; written only to the credentials file. */
  seed: string;
  /** `U...`. */
  publicKey: string;
}

/** Made with Node's native ed25519, as the control plane signs: the nkeys library's key derivation is JavaScript. */
export function createNodeKey(): NodeKey {
  return newUserKey();
}

export function publicKeyOf(seed: string): string {
  return publicKey(seed);
}

/** Base64 nkey signature over `ep-enroll:<node>:<token id>:<public key>`. */
export function enrollProof(key: NodeKey, node: string, tokenId: string): string {
  return signStatement(key.seed, enrollProofText(node, tokenId, key.publicKey));
}
