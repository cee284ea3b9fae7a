// Answers agents' hello requests: creates or updates the EdgeNode, writes its status and
// telemetry, and replies with the heartbeat interval. Only the leader subscribes, since a
// hello writes to Kubernetes; an agent retries its hello until a leader answers.
import { decode, encode, Hello, HelloReply, nodeFromSubject, PROTOCOL_VERSION, subjects, type HelloReply as HelloReplyT } from '@edgeplane/api';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { ensureEdgeNode } from '../kube/edgenodes.ts';
import { describeKubeError } from '../kube/errors.ts';
import { nodesKind } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { EdgeNodeStatus } from '@edgeplane/api';
import type { MalformedReporter } from './malformed.ts';
import { buildNodeStatus } from './node-status.ts';
import type { TelemetryStore } from './telemetry-store.ts';
import { helloFields, parseTelemetry } from './telemetry.ts';
import { RequestLoop } from './request-loop.ts';

/** Every n-th heartbeat carries the full state. */
export const FULL_EVERY = 12;

export interface HelloResponderOptions {
  nc: NatsConnection;
  custom: CustomObjectsApi;
  statusWriter: StatusWriter;
  store: TelemetryStore;
  metrics: Metrics;
  malformed: MalformedReporter;
  log: Logger;
  heartbeatIntervalMs: number;
  mayWrite: () => boolean;
  onKubeWrite?: (resource: string) => void;
  /** The node said hello: capability, power or network may be new. */
  onHello?: (node: string) => void;
}

export class HelloResponder {
  readonly #o: HelloResponderOptions;

  readonly #loop: RequestLoop;

  constructor(options: HelloResponderOptions) {
    this.#o = options;
    this.#loop = new RequestLoop({ nc: options.nc, subject: subjects.allHello, handle: (msg) => this.handle(msg) });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async handle(msg: Msg): Promise<void> {
    const { metrics, log } = this.#o;
    const subjectNode = nodeFromSubject(msg.subject) ?? msg.subject;
    const decoded = decode(Hello, 'hello', msg.data);
    if (!decoded.ok) {
      this.#o.malformed.report('hello', subjectNode, decoded.error.message);
      metrics.hellos.inc({ outcome: 'malformed' });
      this.#reply(msg, { accepted: false, reason: decoded.error.message.slice(0, 512) });
      return;
    }
    const hello = decoded.value;
    if (hello.node !== subjectNode) {
      this.#o.malformed.report('hello', subjectNode, `message names node ${hello.node}, subject names ${subjectNode}`);
      metrics.hellos.inc({ outcome: 'malformed' });
      this.#reply(msg, { accepted: false, reason: 'the node in the subject and in the message differ' });
      return;
    }
    try {
      const now = Date.now();
      await this.#o.store.write([{ node: hello.node, fields: helloFields(hello, now), lastSeenMs: now }]);
      const opts = { custom: this.#o.custom, mayWrite: this.#o.mayWrite, ...(this.#o.onKubeWrite ? { onWrite: this.#o.onKubeWrite } : {}) };
      const obj = await ensureEdgeNode(opts, hello.node, hello.labels);
      const telemetry = parseTelemetry(helloFields(hello, now));
      const capability = { agentVersion: hello.agentVersion, host: hello.host, accelerators: hello.accelerators };
      await this.#o.statusWriter.write(
        { kind: nodesKind, name: hello.node },
        (current) => {
          const prev = EdgeNodeStatus.safeParse(current.status ?? {});
          return buildNodeStatus(prev.success ? prev.data : undefined, { capability, telemetry, reachable: true, now: new Date(now) });
        },
        obj,
      );
      // The Kubernetes writes can take a while; the node counts as seen from the reply on.
      const repliedAt = Date.now();
      await this.#o.store.write([{ node: hello.node, fields: { lastSeenMs: String(repliedAt) }, lastSeenMs: repliedAt }]);
      metrics.hellos.inc({ outcome: 'accepted' });
      log.info({ node: hello.node, agentVersion: hello.agentVersion, bootId: hello.bootId }, 'node said hello');
      this.#reply(msg, { accepted: true });
      this.#o.onHello?.(hello.node);
    } catch (err) {
      metrics.hellos.inc({ outcome: 'error' });
      log.warn({ node: hello.node, err: describeKubeError(err) }, 'hello failed; the agent will retry');
      this.#reply(msg, { accepted: false, reason: 'the control plane could not record the node; retry' });
    }
  }

  #reply(msg: Msg, r: Pick<HelloReplyT, 'accepted'> & { reason?: string }): void {
    if (!msg.reply) return;
    msg.respond(
      encode(HelloReply, 'hello reply', {
        v: PROTOCOL_VERSION,
        accepted: r.accepted,
        ...(r.reason ? { reason: r.reason } : {}),
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
        fullEvery: FULL_EVERY,
      }),
    );
  }
}
