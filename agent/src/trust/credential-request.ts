// One credential request over NATS, for enrolment and renewal alike: send, decode the reply
// (the same shape for both), and check that the JWT it carries is for this node and this key
// before anything is written. Failures become typed errors; the caller decides on retries.
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { decode, EnrollReply } from '@edgeplane/api';
import { readUserJwt, type UserClaimsView } from '@edgeplane/trust';
import { EnrollRefusedError, EnrollUnavailableError, RenewRefusedError, RenewUnavailableError } from './errors.ts';

export type CredentialRequestKind = 'enrol' | 'renew';

export interface IssuedCredential {
  jwt: string;
  claims: UserClaimsView;
}

const refused = (kind: CredentialRequestKind, reason: string, retryAfterMs?: number) =>
  kind === 'enrol' ? new EnrollRefusedError(reason, retryAfterMs) : new RenewRefusedError(reason, retryAfterMs);
const unavailable = (kind: CredentialRequestKind, message: string, cause?: unknown) =>
  kind === 'enrol' ? new EnrollUnavailableError(message, { cause }) : new RenewUnavailableError(message, { cause });

/** Why a request got no answer, in words (no responder, timeout, connection gone). */
export function describeRequestError(err: unknown): string {
  if (err instanceof errors.NoRespondersError) return 'no control plane is answering (no responders)';
  if (err instanceof errors.TimeoutError) return 'the control plane did not answer in time';
  if (err instanceof errors.PermissionViolationError) return `the server refused the request: ${err.message}`;
  return (err as Error).message;
}

export async function requestCredential(
  nc: NatsConnection,
  kind: CredentialRequestKind,
  subject: string,
  body: Uint8Array,
  expect: { node: string; publicKey: string; timeoutMs: number },
): Promise<IssuedCredential> {
  let data: Uint8Array;
  try {
    data = (await nc.request(subject, body, { timeout: expect.timeoutMs })).data;
  } catch (err) {
    throw unavailable(kind, `${kind === 'enrol' ? 'enrolment' : 'renewal'} on ${subject}: ${describeRequestError(err)}`, err);
  }
  const reply = decode(EnrollReply, `${kind} reply`, data);
  if (!reply.ok) throw unavailable(kind, reply.error.message, reply.error);
  if (!reply.value.accepted) {
    throw refused(kind, reply.value.reason, reply.value.retryAfterMs);
  }
  const claims = readUserJwt(reply.value.jwt);
  // Only the control plane can reach this inbox, but a JWT for another name or key would
  // lock the node out at its next connection: refuse it here.
  if (!claims) throw refused(kind, 'REPLY_NOT_A_USER_JWT');
  if (claims.name !== expect.node) throw refused(kind, 'REPLY_FOR_ANOTHER_NODE');
  if (claims.subject !== expect.publicKey) throw refused(kind, 'REPLY_FOR_ANOTHER_KEY');
  return { jwt: reply.value.jwt, claims };
}
