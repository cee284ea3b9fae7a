// Serves one model on `ep.v1.infer.<namespace>.<deployment>` in a queue group, so NATS
// spreads requests over every node serving it. Errors go back as `ep-status` (an HTTP
// status), `ep-error-code` and `ep-error`; a message without a reply subject is counted
// and dropped. A workload with an escalation tier adds `ep-tier` and `ep-escalation` to every
// reply (an answer from that tier carries its `ep-node`). With a node credential, the subscription waits for the deployment's grant
// (a `serve:` tag in the JWT); a subscription the server refuses anyway is counted, logged
// and tried again after the next renewal.
import { inferHeaders, subjects } from '@edgeplane/api';
import { errors as natsErrors, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { backoffMs, sleep, type BackoffOptions } from '../fleet/backoff.ts';
import { replyError } from '../workloads/errors.ts';
import { answerOf, type EscalationMark, type ServedModel } from './registry.ts';
import { ESCALATED_FROM_HEADER } from './upward.ts';
import { decodeRequest, encodeOutputs, timeoutOf } from './wire.ts';

/**
 * The reply headers of an escalating workload: which tier answered and what became of the
 * escalation; an answer from the escalation tier names its node and variant instead of ours.
 */
export function escalationHeaders(mark: EscalationMark | undefined): Record<string, string> {
  if (!mark) return {};
  return {
    [inferHeaders.tier]: mark.tier,
    [inferHeaders.escalation]: mark.outcome,
    ...(mark.node ? { [inferHeaders.node]: mark.node } : {}),
    ...(mark.variant ? { [inferHeaders.variant]: mark.variant } : {}),
  };
}

/**
 * Whether the node's credential may serve a deployment. Without a grant the serving side
 * does not subscribe (the server would refuse it); it asks, and waits for a renewal.
 */
export interface ServeGrant {
  /** True once the current credential carries the deployment's grant, renewing it if needed. */
  ensure(d: { namespace: string; deployment: string }): Promise<boolean>;
  /** Called after each renewal, once reconnected with the new credential; returns the unsubscriber. */
  onRenewed(cb: () => void): () => void;
  /**
   * Whether the current credential lets the node send requests to an escalation tier (an
   * `escalate:` grant); absent, with `ensureEscalate`: escalation is not gated.
   */
  mayEscalate?(d: { namespace: string; deployment: string }): boolean;
  /** Asks for a credential with the escalate grant (a renewal); true once it has it. */
  ensureEscalate?(d: { namespace: string; deployment: string }): Promise<boolean>;
}

export interface NatsServingOptions {
  node: string;
  maxPayloadBytes: number;
  /** Most elements one input tensor may claim (default 2^24). */
  maxTensorElements?: number;
  logger: Logger;
  /** Absent: subscribe at once (a credential without per-deployment grants, or none). */
  grant?: ServeGrant;
  /** Between grant checks that found none, besides every renewal. */
  grantRetry?: BackoffOptions;
  /** Called when `stats.subscribed` changes, so the node can report it at once. */
  onSubscribedChange?: (subscribed: boolean) => void;
}

export interface NatsServingStats {
  served: number;
  failed: number;
  /** Requests without a reply subject: nobody to answer. */
  dropped: number;
  /** Requests answered 4xx (malformed, too large, wrong shape), also counted in `failed`. */
  refused: number;
  /** Subscriptions the server refused (permissions violation); each is tried again after a renewal. */
  denied: number;
  /** Whether the subject is subscribed now. */
  subscribed: boolean;
}

const GRANT_RETRY: BackoffOptions = { initialMs: 5_000, maxMs: 5 * 60_000 };

export interface NatsServing {
  readonly stats: NatsServingStats;
  stop(): Promise<void>;
}

export function serveNats(nc: NatsConnection, model: ServedModel, options: NatsServingOptions): NatsServing {
  const { namespace, deployment } = model.assignment;
  const log = options.logger.child({ workload: model.key });
  const stats: NatsServingStats = { served: 0, failed: 0, dropped: 0, refused: 0, denied: 0, subscribed: false };
  const inflight = new Set<Promise<void>>();

  const reply = (msg: Msg, status: number, extra: Record<string, string>, payload?: Uint8Array): void => {
    const h = natsHeaders();
    h.set(inferHeaders.status, String(status));
    if (options.node) h.set(inferHeaders.node, options.node);
    h.set(inferHeaders.variant, model.assignment.variant.name);
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    msg.respond(payload ?? new Uint8Array(0), { headers: h });
  };

  const handle = async (msg: Msg): Promise<void> => {
    if (!msg.reply) {
      stats.dropped++;
      return;
    }
    try {
      // Sizes are checked against the payload and the limits before anything is allocated.
      const tensors = decodeRequest(msg.headers, msg.data, options.maxPayloadBytes, options.maxTensorElements);
      const timeoutMs = timeoutOf(msg.headers);
      const escalated = (msg.headers?.get(ESCALATED_FROM_HEADER) ?? '') !== '';
      const answer = await answerOf(model, tensors, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(escalated ? { escalated } : {}) });
      const { tensors: meta, payload } = encodeOutputs(answer.outputs);
      reply(msg, 200, { [inferHeaders.tensors]: meta, ...escalationHeaders(answer.escalation) }, payload);
      stats.served++;
    } catch (err) {
      stats.failed++;
      const e = replyError(err);
      if (e.status >= 500) log.warn({ code: e.code, err }, 'inference failed');
      else {
        stats.refused++;
        log.debug({ code: e.code, err: e.message, refused: stats.refused }, 'inference request refused');
      }
      // Header values are single-line.
      reply(msg, e.status, { [inferHeaders.errorCode]: e.code, [inferHeaders.error]: e.message.replace(/[\r\n]+/g, ' ').slice(0, 1024) });
    }
  };

  const subject = subjects.infer(namespace, deployment);
  const stopped = new AbortController();
  let sub: Subscription | null = null;

  const subscribe = (): void => {
    const s: Subscription = nc.subscribe(subject, {
      queue: subjects.inferQueue(namespace, deployment),
      callback: (err, msg) => {
        if (err) {
          if (err instanceof natsErrors.PermissionViolationError) {
            // nats.js has closed the subscription; it comes back after the next renewal.
            stats.denied += 1;
            stats.subscribed = false;
            if (sub === s) sub = null;
            options.onSubscribedChange?.(false);
            log.warn({ err, subject, denied: stats.denied }, 'inference subscription refused by the server; trying again after the next credential renewal');
            void waitThenSubscribe(true);
            return;
          }
          log.warn({ err }, 'inference subscription error');
          return;
        }
        const p = handle(msg);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    });
    sub = s;
    stats.subscribed = true;
    log.info({ subject }, 'serving over NATS');
    options.onSubscribedChange?.(true);
  };

  /** Resolves at the next renewal, after `ms`, or when stopped, whichever is first. */
  const nextChance = async (ms: number): Promise<void> => {
    const wake = new AbortController();
    const onStop = () => wake.abort();
    stopped.signal.addEventListener('abort', onStop, { once: true });
    const off = options.grant?.onRenewed(() => wake.abort());
    await sleep(ms, wake.signal);
    off?.();
    stopped.signal.removeEventListener('abort', onStop);
  };

  let waiting = false;
  /**
   * Subscribes once the grant is there. After a refusal (`refused`) it first waits for a renewal,
   * or a delay that grows with each refusal, so a server that keeps refusing costs one attempt
   * every few minutes at most.
   */
  const waitThenSubscribe = async (refused: boolean): Promise<void> => {
    if (waiting) return;
    waiting = true;
    try {
      const grant = options.grant;
      if (refused) await nextChance(backoffMs(stats.denied - 1, options.grantRetry ?? GRANT_RETRY));
      for (let attempt = 0; !stopped.signal.aborted; attempt++) {
        let granted = true;
        if (grant) {
          try {
            granted = await grant.ensure({ namespace, deployment });
          } catch (err) {
            granted = false;
            log.warn({ err, subject }, 'cannot check the serve grant');
          }
        }
        if (stopped.signal.aborted || nc.isClosed()) return;
        if (granted) return subscribe();
        const delay = backoffMs(attempt, options.grantRetry ?? GRANT_RETRY);
        log.warn({ subject, retryInMs: delay }, 'the node credential does not grant serving this deployment yet; waiting for a renewal');
        await nextChance(delay);
      }
    } finally {
      waiting = false;
    }
  };

  if (options.grant) void waitThenSubscribe(false);
  else subscribe();

  return {
    stats,
    async stop() {
      stopped.abort();
      stats.subscribed = false;
      try {
        if (sub && !sub.isClosed()) sub.unsubscribe();
      } catch {
        // The connection is closed already: nothing left to unsubscribe.
      }
      await Promise.all([...inflight]);
    },
  };
}
