// Serves one model on `ep.v1.infer.<namespace>.<deployment>` in a queue group, so NATS
// spreads requests over every node serving it. Errors go back as `ep-status` (an HTTP
// status), `ep-error-code` and `ep-error`; a message without a reply subject is counted
// and dropped.
import { inferHeaders, subjects } from '@edgeplane/api';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { replyError } from '../workloads/errors.ts';
import type { ServedModel } from './registry.ts';
import { decodeRequest, encodeOutputs, timeoutOf } from './wire.ts';

export interface NatsServingOptions {
  node: string;
  maxPayloadBytes: number;
  /** Most elements one input tensor may claim (default 2^24). */
  maxTensorElements?: number;
  logger: Logger;
}

export interface NatsServingStats {
  served: number;
  failed: number;
  /** Requests without a reply subject: nobody to answer. */
  dropped: number;
  /** Requests answered 4xx (malformed, too large, wrong shape), also counted in `failed`. */
  refused: number;
}

export interface NatsServing {
  readonly stats: NatsServingStats;
  stop(): Promise<void>;
}

export function serveNats(nc: NatsConnection, model: ServedModel, options: NatsServingOptions): NatsServing {
  const { namespace, deployment } = model.assignment;
  const log = options.logger.child({ workload: model.key });
  const stats: NatsServingStats = { served: 0, failed: 0, dropped: 0, refused: 0 };
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
      const outputs = await model.infer(tensors, timeoutMs !== undefined ? { timeoutMs } : {});
      const { tensors: meta, payload } = encodeOutputs(outputs);
      reply(msg, 200, { [inferHeaders.tensors]: meta }, payload);
      stats.served++;
    } catch (err) {
      stats.failed++;
      const e = replyError(err);
      if (e.status >= 500) log.warn({ code: e.code, err: e.message }, 'inference failed');
      else {
        stats.refused++;
        log.debug({ code: e.code, err: e.message, refused: stats.refused }, 'inference request refused');
      }
      // Header values are single-line.
      reply(msg, e.status, { [inferHeaders.errorCode]: e.code, [inferHeaders.error]: e.message.replace(/[\r\n]+/g, ' ').slice(0, 1024) });
    }
  };

  const sub: Subscription = nc.subscribe(subjects.infer(namespace, deployment), {
    queue: subjects.inferQueue(namespace, deployment),
    callback: (err, msg) => {
      if (err) {
        log.warn({ err: err.message }, 'inference subscription error');
        return;
      }
      const p = handle(msg);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    },
  });
  log.info({ subject: subjects.infer(namespace, deployment) }, 'serving over NATS');

  return {
    stats,
    async stop() {
      try {
        if (!sub.isClosed()) sub.unsubscribe();
      } catch {
        // The connection is closed already: nothing left to unsubscribe.
      }
      await Promise.all([...inflight]);
    },
  };
}
