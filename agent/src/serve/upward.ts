// Hard inputs to the escalation tier over NATS: the same tensors, as a request on the tier's
// inference subject with the remaining deadline, marked as an escalation so the tier answers
// it itself and never sends it on. No responder, an error reply or a refusal is `unavailable`;
// no reply within the wait, or the tier's own deadline error, is `timeout`.
import { inferHeaders, subjects } from '@edgeplane/api';
import { errors as natsErrors, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { UpwardError, type DeploymentRef, type Upward, type UpwardReply } from '../cascade/escalator.ts';
import type { UpwardTiming } from '../cascade/deadline.ts';
import type { WireTensor } from '../runtime/index.ts';
import { decodeRequest, encodeOutputs } from './wire.ts';

/**
 * Request header naming the node that escalated the request: the receiving tier answers with
 * its own model and does not escalate again (no loops between two tiers escalating to each other).
 */
export const ESCALATED_FROM_HEADER = 'ep-escalated-from';

/** A reply status meaning the escalation tier ran out of the deadline it was given. */
const TIMEOUT_STATUS = '504';

function isTimeout(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof natsErrors.TimeoutError) return true;
  }
  return false;
}

export interface NatsUpwardOptions {
  /** This node's name, sent as ESCALATED_FROM_HEADER. */
  node: string;
  /** Largest reply accepted, bytes. */
  maxReplyBytes: number;
}

export function natsUpward(nc: NatsConnection, options: NatsUpwardOptions): Upward {
  return {
    async request(to: DeploymentRef, inputs: readonly WireTensor[], timing: UpwardTiming): Promise<UpwardReply> {
      const { tensors, payload } = encodeOutputs(inputs);
      const h = natsHeaders();
      h.set(inferHeaders.tensors, tensors);
      h.set(inferHeaders.deadlineMs, String(timing.deadlineMs));
      h.set(ESCALATED_FROM_HEADER, options.node || 'unknown');
      const subject = subjects.infer(to.namespace, to.deployment);
      let msg;
      try {
        msg = await nc.request(subject, payload, { headers: h, timeout: timing.waitMs });
      } catch (err) {
        if (isTimeout(err)) throw new UpwardError('timeout', `${subject} did not answer within ${timing.waitMs} ms`, { cause: err });
        throw new UpwardError('unavailable', `${subject}: ${(err as Error).message}`, { cause: err });
      }
      const status = msg.headers?.get(inferHeaders.status) ?? '';
      if (status !== '200') {
        const code = msg.headers?.get(inferHeaders.errorCode) ?? '';
        const why = `${subject} answered ${status || 'without a status'} ${code}`.trim();
        throw new UpwardError(status === TIMEOUT_STATUS ? 'timeout' : 'unavailable', why);
      }
      try {
        const outputs = decodeRequest(msg.headers, msg.data, options.maxReplyBytes);
        const node = msg.headers?.get(inferHeaders.node);
        const variant = msg.headers?.get(inferHeaders.variant);
        return { outputs, ...(node ? { node } : {}), ...(variant ? { variant } : {}) };
      } catch (err) {
        throw new UpwardError('unavailable', `${subject} sent a reply that does not decode: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
