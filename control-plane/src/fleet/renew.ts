// Answers credential renewals (`ep.v1.node.<node>.renew`): only that node's credential may
// publish there, and the key it names must be the one its EdgeNode records, not revoked. The
// new JWT carries the deployments the node's KV assignment names now. Leader only, with enrolment.
import {
  CREDENTIAL_REFUSALS,
  PROTOCOL_VERSION,
  RenewReply,
  RenewRequest,
  decode,
  encode,
  nodeFromSubject,
  subjects,
  type CredentialRefusal,
  type NodeIdentity,
} from '@edgeplane/api';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { decideRenewal } from './enroll-checks.ts';
import type { MalformedReporter } from './malformed.ts';
import type { NodeCredentialIssuer } from './node-credentials.ts';
import { RequestLoop } from './request-loop.ts';

export interface RenewResponderOptions {
  nc: NatsConnection;
  /** The identity an EdgeNode records, from the informer's cache; null when there is no EdgeNode. */
  identityOf: (node: string) => NodeIdentity | null;
  credentials: NodeCredentialIssuer;
  metrics: Metrics;
  malformed: MalformedReporter;
  log: Logger;
}

type Outcome = { accepted: true; jwt: string } | { accepted: false; reason: CredentialRefusal };

export class RenewResponder {
  readonly #o: RenewResponderOptions;

  readonly #loop: RequestLoop;

  constructor(options: RenewResponderOptions) {
    this.#o = options;
    this.#loop = new RequestLoop({ nc: options.nc, subject: subjects.allRenew, handle: (msg) => this.handle(msg) });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async handle(msg: Msg): Promise<void> {
    const { log } = this.#o;
    const node = nodeFromSubject(msg.subject) ?? msg.subject;
    const decoded = decode(RenewRequest, 'renew request', msg.data);
    if (!decoded.ok || decoded.value.node !== node) {
      this.#o.malformed.report('renew', node, decoded.ok ? `message names node ${decoded.value.node}, subject names ${node}` : decoded.error.message);
      this.#finish(msg, { accepted: false, reason: CREDENTIAL_REFUSALS.malformed });
      return;
    }
    const { publicKey } = decoded.value;
    const decision = decideRenewal(this.#o.identityOf(node), publicKey);
    if (!decision.ok) {
      log.warn({ node, reason: decision.reason, detail: decision.detail }, 'credential renewal refused');
      this.#finish(msg, { accepted: false, reason: decision.reason });
      return;
    }
    try {
      const { jwt, tags } = await this.#o.credentials.issue(node, publicKey);
      log.info({ node, tags: tags.length }, 'node credential renewed');
      this.#finish(msg, { accepted: true, jwt });
    } catch (err) {
      log.error({ node, err }, 'credential renewal failed; the agent will retry');
      this.#finish(msg, { accepted: false, reason: CREDENTIAL_REFUSALS.unavailable });
    }
  }

  #finish(msg: Msg, outcome: Outcome): void {
    this.#o.metrics.renewals.inc({ outcome: outcome.accepted ? 'accepted' : outcome.reason.toLowerCase() });
    if (!msg.reply) return;
    const reply: RenewReply = outcome.accepted
      ? { v: PROTOCOL_VERSION, accepted: true, jwt: outcome.jwt }
      : { v: PROTOCOL_VERSION, accepted: false, reason: outcome.reason, ...(outcome.reason === CREDENTIAL_REFUSALS.unavailable ? { retryAfterMs: 1000 } : {}) };
    msg.respond(encode(RenewReply, 'renew reply', reply));
  }
}
