// What the leader decides about an enrolment or a renewal, as pure functions of what it read
// (the token Secret, the EdgeNode's recorded identity) and the clock. No I/O here, so every
// rule has a table test.
import { timingSafeEqual } from 'node:crypto';
import {
  CREDENTIAL_REFUSALS,
  enrollProofText,
  nodeNameMatches,
  tokenState,
  type BootstrapToken,
  type CredentialRefusal,
  type EnrollRequest,
  type NodeIdentity,
} from '@edgeplane/api';
import { verifyStatement } from '@edgeplane/trust';

export interface Refusal {
  ok: false;
  reason: CredentialRefusal;
  /** For the log line: which check failed, never a secret. */
  detail: string;
}

export type EnrollDecision =
  | {
      ok: true;
      /** Count this enrolment on the token (not for a retry of one already counted). */
      countUse: boolean;
      /** A key the node held before, to revoke now that it is replaced. */
      replacesKey?: string;
    }
  | Refusal;

const refuse = (reason: CredentialRefusal, detail: string): Refusal => ({ ok: false, reason, detail });

/** `<id>.<secret>` split; the request schema already checked the shape. */
export function splitToken(token: string): { tokenId: string; secret: string } {
  const dot = token.indexOf('.');
  return { tokenId: token.slice(0, dot), secret: token.slice(dot + 1) };
}

/** Constant-time, so the time a refusal takes says nothing about how much of a secret matched. */
export function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface EnrollFacts {
  request: EnrollRequest;
  /** The token Secret as parsed; null when absent or unreadable. */
  token: BootstrapToken | null;
  /** The EdgeNode's recorded identity; null when there is no EdgeNode. */
  existing: NodeIdentity | null;
  nowMs: number;
}

/**
 * Order matters: nothing about the node is said to a caller who has not shown the token's
 * secret, and every token problem reads the same from outside.
 */
export function decideEnrollment({ request, token, existing, nowMs }: EnrollFacts): EnrollDecision {
  const { tokenId, secret } = splitToken(request.token);
  if (!token || token.tokenId !== tokenId) return refuse(CREDENTIAL_REFUSALS.tokenInvalid, 'no such token');
  if (!secretsEqual(token.secret, secret)) return refuse(CREDENTIAL_REFUSALS.tokenInvalid, 'wrong secret');
  const state = tokenState(token, nowMs);
  if (state === 'expired') return refuse(CREDENTIAL_REFUSALS.tokenInvalid, 'token expired');
  if (!verifyStatement(request.publicKey, enrollProofText(request.node, tokenId, request.publicKey), request.proof)) {
    return refuse(CREDENTIAL_REFUSALS.proofInvalid, 'the proof does not verify with the public key');
  }
  if (token.nodeNamePattern !== undefined && !nodeNameMatches(token.nodeNamePattern, request.node)) {
    return refuse(CREDENTIAL_REFUSALS.nodeNotAllowed, `node name outside the token's pattern ${token.nodeNamePattern}`);
  }
  if (existing?.revoked) return refuse(CREDENTIAL_REFUSALS.revoked, 'the EdgeNode carries the revoke marker');
  // The same key enrolled by the same token: a retry whose reply was lost. Already counted.
  if (existing?.publicKey === request.publicKey && existing.enrolledBy === tokenId) return { ok: true, countUse: false };
  if (state === 'used-up') return refuse(CREDENTIAL_REFUSALS.tokenInvalid, 'token used up');
  if (existing?.publicKey && existing.publicKey !== request.publicKey) {
    if (!token.allowReenrollment) return refuse(CREDENTIAL_REFUSALS.keyConflict, 'the node is enrolled with another key and the token does not allow re-enrolment');
    return { ok: true, countUse: true, replacesKey: existing.publicKey };
  }
  return { ok: true, countUse: true };
}

export type RenewDecision = { ok: true } | Refusal;

/** Renewal: the node must exist, hold a key, not be revoked, and ask for that very key. */
export function decideRenewal(existing: NodeIdentity | null, publicKey: string): RenewDecision {
  if (!existing) return refuse(CREDENTIAL_REFUSALS.unknownNode, 'no EdgeNode');
  if (existing.revoked) return refuse(CREDENTIAL_REFUSALS.revoked, 'the EdgeNode carries the revoke marker');
  if (!existing.publicKey) return refuse(CREDENTIAL_REFUSALS.unknownNode, 'the EdgeNode records no key');
  if (existing.publicKey !== publicKey) return refuse(CREDENTIAL_REFUSALS.keyMismatch, 'the key is not the one the EdgeNode records');
  return { ok: true };
}
