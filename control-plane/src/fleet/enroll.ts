// Answers enrolment requests (`ep.v1.enroll`, from bootstrap users): checks the token Secret
// and the proof, records the node's key on its EdgeNode, counts the use, and replies with a
// node credential. Only the leader subscribes, since an enrolment writes to Kubernetes.
import {
  CREDENTIAL_REFUSALS,
  EnrollReply,
  EnrollRequest,
  NODE_IDENTITY_ANNOTATIONS,
  PROTOCOL_VERSION,
  decode,
  encode,
  nodeIdentityOf,
  subjects,
  type CredentialRefusal,
  type NodeIdentity,
} from '@edgeplane/api';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { isNotLeaderError, isWriteConflictError } from '../errors.ts';
import type { BootstrapTokens } from '../kube/bootstrap-tokens.ts';
import { readEdgeNode, writeNodeIdentity } from '../kube/edgenodes.ts';
import { describeKubeError } from '../kube/errors.ts';
import type { Metrics } from '../metrics.ts';
import { decideEnrollment, splitToken } from './enroll-checks.ts';
import type { MalformedReporter } from './malformed.ts';
import type { NodeCredentialIssuer } from './node-credentials.ts';
import { TokenUses } from './token-uses.ts';
import { RequestLoop } from './request-loop.ts';

/** Revokes a node key that another key replaced. */
export interface KeyRevoker {
  revoke(publicKey: string, context: { node: string; why: string }): void;
}

export interface EnrollResponderOptions {
  nc: NatsConnection;
  custom: CustomObjectsApi;
  tokens: BootstrapTokens;
  credentials: NodeCredentialIssuer;
  revoker: KeyRevoker;
  metrics: Metrics;
  malformed: MalformedReporter;
  log: Logger;
  mayWrite: () => boolean;
  onKubeWrite?: (resource: string) => void;
  /** Requests handled at once; beyond it a request is told to come back. */
  maxInFlight?: number;
}

const RETRY_AFTER_MS = 1000;

/** No EdgeNode and one without an identity are the same to an enrolment decision. */
function sameIdentity(a: NodeIdentity | null, b: NodeIdentity | null): boolean {
  return a?.publicKey === b?.publicKey && a?.enrolledBy === b?.enrolledBy && (a?.revoked ?? false) === (b?.revoked ?? false);
}
const DEFAULT_MAX_IN_FLIGHT = 256;

type Outcome = { accepted: true; jwt: string } | { accepted: false; reason: CredentialRefusal };

export class EnrollResponder {
  readonly #o: EnrollResponderOptions;
  readonly #uses: TokenUses;

  readonly #loop: RequestLoop;

  constructor(options: EnrollResponderOptions) {
    this.#o = options;
    this.#loop = new RequestLoop({
      nc: options.nc,
      subject: subjects.enroll,
      handle: (msg) => this.handle(msg),
      maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      onBusy: (msg) => this.#finish(msg, { accepted: false, reason: CREDENTIAL_REFUSALS.unavailable }, 'busy'),
    });
    this.#uses = new TokenUses({
      tokens: options.tokens,
      onInvalid: (token, read) => options.log.warn({ token, field: read.field }, 'bootstrap token Secret does not parse; refusing it'),
    });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async handle(msg: Msg): Promise<void> {
    const { log } = this.#o;
    const decoded = decode(EnrollRequest, 'enrol request', msg.data);
    if (!decoded.ok) {
      // Bootstrap users share a name per token at most; the reply inbox is the best sender id.
      this.#o.malformed.report('enroll', msg.reply ?? 'bootstrap', decoded.error.message);
      this.#finish(msg, { accepted: false, reason: CREDENTIAL_REFUSALS.malformed }, 'malformed');
      return;
    }
    const req = decoded.value;
    const { tokenId } = splitToken(req.token);
    const refuse = (reason: CredentialRefusal, detail: string, level: 'info' | 'warn' = 'warn') => {
      log[level]({ node: req.node, token: tokenId, reason, detail }, 'enrolment refused');
      this.#finish(msg, { accepted: false, reason });
    };
    try {
      const existingObj = await readEdgeNode(this.#o.custom, req.node);
      const existing = existingObj ? nodeIdentityOf(existingObj.metadata) : null;
      // Decided and counted with the other requests on this token, against one read of it.
      const step = await this.#uses.decide(tokenId, (token) => decideEnrollment({ request: req, token, existing, nowMs: Date.now() }));
      if (!step.ok) {
        refuse(step.reason, step.detail, step.reason === CREDENTIAL_REFUSALS.unavailable ? 'info' : 'warn');
        return;
      }
      if (step.countUse) {
        const opts = { custom: this.#o.custom, mayWrite: this.#o.mayWrite, ...(this.#o.onKubeWrite ? { onWrite: this.#o.onKubeWrite } : {}) };
        const annotations = {
          [NODE_IDENTITY_ANNOTATIONS.nkey]: req.publicKey,
          [NODE_IDENTITY_ANNOTATIONS.enrolledBy]: tokenId,
          [NODE_IDENTITY_ANNOTATIONS.enrolledAt]: new Date().toISOString(),
        };
        await writeNodeIdentity(opts, req.node, existingObj, annotations, (now) => sameIdentity(now ? nodeIdentityOf(now.metadata) : null, existing));
      }
      if (step.replacesKey) this.#o.revoker.revoke(step.replacesKey, { node: req.node, why: 're-enrolled with another key' });
      const { jwt, tags } = await this.#o.credentials.issue(req.node, req.publicKey);
      log.info({ node: req.node, token: tokenId, tags: tags.length, retry: !step.countUse, reenrolled: Boolean(step.replacesKey) }, 'node enrolled');
      this.#finish(msg, { accepted: true, jwt });
    } catch (err) {
      if (isNotLeaderError(err) || isWriteConflictError(err)) {
        refuse(CREDENTIAL_REFUSALS.unavailable, (err as Error).message, 'info');
        return;
      }
      log.error({ node: req.node, token: tokenId, err: describeKubeError(err) }, 'enrolment failed; the agent will retry');
      this.#finish(msg, { accepted: false, reason: CREDENTIAL_REFUSALS.unavailable });
    }
  }

  #finish(msg: Msg, outcome: Outcome, label?: string): void {
    this.#o.metrics.enrollments.inc({ outcome: label ?? (outcome.accepted ? 'accepted' : outcome.reason.toLowerCase()) });
    if (!msg.reply) return;
    const reply: EnrollReply = outcome.accepted
      ? { v: PROTOCOL_VERSION, accepted: true, jwt: outcome.jwt }
      : { v: PROTOCOL_VERSION, accepted: false, reason: outcome.reason, ...(outcome.reason === CREDENTIAL_REFUSALS.unavailable ? { retryAfterMs: RETRY_AFTER_MS } : {}) };
    msg.respond(encode(EnrollReply, 'enrol reply', reply));
  }
}
