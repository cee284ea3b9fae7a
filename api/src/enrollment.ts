// Enrolment and renewal of a node's NATS credential (protocol v1). An agent proves it holds
// the nkey it names by signing `enrollProofText`; the leader answers with a user JWT bound to
// that key, or with a refusal code that never says more than the code.
import { z } from 'zod';
import { NodeName, PROTOCOL_VERSION } from './messages.ts';

/** Bootstrap token id and secret, as kubeadm's: 6 and 16 characters of [a-z0-9]. */
export const TOKEN_ID_PATTERN = /^[a-z0-9]{6}$/;
export const TOKEN_SECRET_PATTERN = /^[a-z0-9]{16}$/;
const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** `<id>.<secret>`: what an enrolment request carries. */
export const BootstrapTokenText = z.string().regex(TOKEN_PATTERN, 'must be <id>.<secret>: 6 and 16 characters of a-z and 0-9');

/** An nkey user public key (`U` and 55 base32 characters). */
export const UserPublicKey = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be an nkey user public key (U...)');

/** A compact JWS; bounded so a reply cannot make the agent hold megabytes. */
export const JwtText = z
  .string()
  .max(64 * 1024)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'must be a JWT');

/** An ed25519 signature (64 bytes) in standard base64. */
export const NkeySignature = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

/** What the agent signs with its nkey to prove it holds the key it asks a credential for. */
export function enrollProofText(node: string, tokenId: string, publicKey: string): string {
  return `ep-enroll:${node}:${tokenId}:${publicKey}`;
}

export const EnrollRequest = z.object({
  v: z.literal(PROTOCOL_VERSION),
  /** `<id>.<secret>` of the bootstrap token. */
  token: BootstrapTokenText,
  node: NodeName,
  publicKey: UserPublicKey,
  /** base64 nkey signature over `enrollProofText(node, tokenId, publicKey)`. */
  proof: NkeySignature,
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/** Renewal: the node comes from the subject; the key must be the one its EdgeNode records. */
export const RenewRequest = z.object({
  v: z.literal(PROTOCOL_VERSION),
  node: NodeName,
  publicKey: UserPublicKey,
});
export type RenewRequest = z.infer<typeof RenewRequest>;

/**
 * Why an enrolment or renewal was refused. A token problem of any kind (unknown, wrong
 * secret, expired, used up) is one code, so a caller without the secret learns nothing.
 */
export const CREDENTIAL_REFUSALS = {
  /** Not a valid request. */
  malformed: 'MALFORMED',
  /** Unknown token, wrong secret, expired or used up. */
  tokenInvalid: 'TOKEN_INVALID',
  /** The signature does not verify with the public key. */
  proofInvalid: 'PROOF_INVALID',
  /** The token does not allow this node name. */
  nodeNotAllowed: 'NODE_NOT_ALLOWED',
  /** The node is enrolled with another key and the token does not allow re-enrolment. */
  keyConflict: 'NODE_KEY_CONFLICT',
  /** The node was revoked. */
  revoked: 'NODE_REVOKED',
  /** Renewal: no EdgeNode of that name, or it records no key. */
  unknownNode: 'NODE_UNKNOWN',
  /** Renewal: the key is not the one the EdgeNode records. */
  keyMismatch: 'KEY_MISMATCH',
  /** The control plane could not decide now (Kubernetes unreachable, a concurrent use); retry. */
  unavailable: 'UNAVAILABLE',
} as const;
export type CredentialRefusal = (typeof CREDENTIAL_REFUSALS)[keyof typeof CREDENTIAL_REFUSALS];

/** A code, not a sentence; unknown future codes still parse (and count as a refusal). */
const RefusalCode = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be a refusal code');

const Accepted = z.object({
  v: z.literal(PROTOCOL_VERSION),
  accepted: z.literal(true),
  /** The node's user JWT, bound to the public key it sent. */
  jwt: JwtText,
});
const Refused = z.object({
  v: z.literal(PROTOCOL_VERSION),
  accepted: z.literal(false),
  reason: RefusalCode,
  /** For `UNAVAILABLE`: when to ask again. */
  retryAfterMs: z.int().min(0).max(600_000).optional(),
});

export const EnrollReply = z.discriminatedUnion('accepted', [Accepted, Refused]);
export type EnrollReply = z.infer<typeof EnrollReply>;
export const RenewReply = z.discriminatedUnion('accepted', [Accepted, Refused]);
export type RenewReply = z.infer<typeof RenewReply>;

/** A join token as `edgeplane token create` prints it: `<id>.<secret>::<bootstrap JWT>`. */
export interface JoinToken {
  tokenId: string;
  secret: string;
  /** `<id>.<secret>`, as an enrolment request carries it. */
  token: string;
  /** Bearer user JWT of the bootstrap user for this token. */
  jwt: string;
}

export function formatJoinToken(tokenId: string, secret: string, jwt: string): string {
  return `${tokenId}.${secret}::${jwt}`;
}

/** Null for anything that is not a join token; never echoes the secret in an error. */
export function parseJoinToken(text: string): JoinToken | null {
  const at = text.indexOf('::');
  if (at < 0) return null;
  const token = text.slice(0, at).trim();
  const jwt = text.slice(at + 2).trim();
  const m = TOKEN_PATTERN.exec(token);
  if (!m || !JwtText.safeParse(jwt).success) return null;
  return { tokenId: m[1]!, secret: m[2]!, token, jwt };
}
