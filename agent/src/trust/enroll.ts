// Enrolment, as kubelet's TLS bootstrap: connect as the bootstrap user of the join token (a
// bearer JWT whose only rights are one request on `ep.v1.enroll` and replies on its own inbox
// prefix), send this node's new public key with a proof that it holds the key, and take the
// user JWT the leader signs for it. Retried with backoff until accepted or stopped.
import { connect, errors, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { CREDENTIAL_REFUSALS, encode, EnrollRequest, PROTOCOL_VERSION, subjects } from '@edgeplane/api';
import { inboxPrefix } from '@edgeplane/trust';
import { backoffMs, sleep, type BackoffOptions } from '../fleet/backoff.ts';
import { requestCredential, type IssuedCredential } from './credential-request.ts';
import { EnrollUnavailableError, isEnrollRefusedError, isIdentityError } from './errors.ts';
import type { JoinToken } from './join-token.ts';
import { enrollProof, type NodeKey } from './proof.ts';

export interface EnrollOptions {
  servers: readonly string[];
  /** The pinned CA (PEM) the server must chain to. */
  caPem: string;
  node: string;
  join: JoinToken;
  key: NodeKey;
  log: Logger;
  signal?: AbortSignal;
  /** Per attempt: connecting, and waiting for the reply, ms. */
  timeoutMs?: number;
  /** Between attempts without an answer (server or leader away). */
  unavailableBackoff?: BackoffOptions;
  /** Between refused attempts: an operator has to act first, so ask rarely. */
  refusedBackoff?: BackoffOptions;
}

const UNAVAILABLE_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };
const REFUSED_BACKOFF: BackoffOptions = { initialMs: 10_000, maxMs: 5 * 60_000 };

async function connectBootstrap(o: EnrollOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: [...o.servers],
      name: `edgeplane-agent-enrol/${o.node}`,
      tls: { ca: o.caPem },
      authenticator: jwtAuthenticator(o.join.jwt),
      // The bootstrap user may read replies under this prefix only.
      inboxPrefix: inboxPrefix.enroll(o.join.id),
      reconnect: false,
      timeout: o.timeoutMs ?? 10_000,
    });
  } catch (err) {
    const why =
      err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError
        ? 'the server refused the bootstrap token (expired, or not signed for this fleet)'
        : (err as Error).message;
    throw new EnrollUnavailableError(`cannot connect as the bootstrap user: ${why}`, { cause: err });
  }
}

/** One attempt; throws EnrollRefusedError or EnrollUnavailableError. */
export async function enrollOnce(o: EnrollOptions): Promise<IssuedCredential> {
  const nc = await connectBootstrap(o);
  try {
    const body = encode(EnrollRequest, 'enrol request', {
      v: PROTOCOL_VERSION,
      token: o.join.token,
      node: o.node,
      publicKey: o.key.publicKey,
      proof: enrollProof(o.key, o.node, o.join.id),
    });
    return await requestCredential(nc, 'enrol', subjects.enroll, body, { node: o.node, publicKey: o.key.publicKey, timeoutMs: o.timeoutMs ?? 10_000 });
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/**
 * How an enrolment attempt failed, for the retry: `refused` needs an operator (slow retries);
 * `deferred` is the control plane asking to come back (busy, Kubernetes away, a lost
 * compare-and-swap) and `unanswered` no answer at all, both retried soon.
 */
export type EnrollFailure = 'refused' | 'deferred' | 'unanswered';

export function enrollFailure(err: unknown): EnrollFailure {
  if (!isEnrollRefusedError(err)) return 'unanswered';
  return err.reason === CREDENTIAL_REFUSALS.unavailable ? 'deferred' : 'refused';
}

/** Retries until accepted; null when stopped first. */
export async function enroll(o: EnrollOptions): Promise<IssuedCredential | null> {
  let refusedAttempts = 0;
  let unavailableAttempts = 0;
  for (let attempt = 1; !o.signal?.aborted; attempt++) {
    try {
      const issued = await enrollOnce(o);
      o.log.info({ attempts: attempt, publicKey: o.key.publicKey, tokenId: o.join.id, expiresAtS: issued.claims.expiresAtS }, 'enrolled: node credential issued');
      return issued;
    } catch (err) {
      if (!isIdentityError(err)) throw err;
      let delay: number;
      if (isEnrollRefusedError(err) && enrollFailure(err) === 'refused') {
        delay = Math.max(err.retryAfterMs ?? 0, backoffMs(refusedAttempts++, o.refusedBackoff ?? REFUSED_BACKOFF));
        o.log.error({ err, code: err.code, reason: err.reason, tokenId: o.join.id, attempt, retryInMs: delay }, 'enrolment refused; check the bootstrap token (edgeplane token list) and the node name');
      } else if (isEnrollRefusedError(err)) {
        // A fleet enrolling at once meets a busy leader: come back when it says, not after the
        // minutes a real refusal waits.
        delay = Math.max(err.retryAfterMs ?? 0, backoffMs(unavailableAttempts++, o.unavailableBackoff ?? UNAVAILABLE_BACKOFF));
        o.log[attempt <= 3 ? 'info' : 'warn']({ code: err.code, reason: err.reason, tokenId: o.join.id, attempt, retryInMs: delay }, 'enrolment deferred by the control plane; retrying');
      } else {
        delay = backoffMs(unavailableAttempts++, o.unavailableBackoff ?? UNAVAILABLE_BACKOFF);
        o.log[attempt <= 3 ? 'warn' : 'error']({ err, code: err.code, tokenId: o.join.id, attempt, retryInMs: delay }, 'enrolment not answered; retrying');
      }
      await sleep(delay, o.signal);
    }
  }
  return null;
}
