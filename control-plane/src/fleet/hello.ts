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
import { KeyedRateLimit } from './rate-limit.ts';

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
  /** Hellos handled at once; more are answered "busy" at once, with no write. Absent: 64. */
  maxInFlight?: number;
  /** Per-node pace of hellos: `burst`, then one more every `refillMs`. Absent: no limit. */
  perNode?: { burst: number; refillMs: number };
  /**
   * The fleet's size bound: a hello from a node with no EdgeNode is refused, with no write, once
   * `count()` nodes reach `max`. Absent: no bound.
   */
  nodeLimit?: { max: number; count: () => number; isKnown: (node: string) => boolean };
}

/** Default bound on hellos handled at once: each costs several Kubernetes and Redis calls. */
export const HELLO_MAX_IN_FLIGHT = 64;
/** How long a new node's hello waits for its EdgeNode to reach the cache, and how often it looks, ms. */
const KNOWN_WAIT_MS = 1000;
const KNOWN_POLL_MS = 10;
/** Refusals whose text never names the node, so one encoding serves every sender. */
const REFUSALS_CACHED = ['the control plane is busy', 'too many hellos', 'the fleet is at its limit'];
/** Names whose hello pace is tracked at most (least recently used forgotten first). */
const HELLO_TRACKED_NODES = 100_000;

export class HelloResponder {
  readonly #o: HelloResponderOptions;

  readonly #loop: RequestLoop;
  readonly #perNode: KeyedRateLimit | undefined;
  #limitLoggedAt = 0;
  readonly #refusals = new Map<string, Uint8Array>();
  /** Hellos of nodes without an EdgeNode being handled now. */
  #admitting = 0;

  constructor(options: HelloResponderOptions) {
    this.#o = options;
    this.#perNode = options.perNode ? new KeyedRateLimit({ ...options.perNode, maxKeys: HELLO_TRACKED_NODES }) : undefined;
    this.#loop = new RequestLoop({
      nc: options.nc,
      subject: subjects.allHello,
      handle: (msg) => this.handle(msg),
      maxInFlight: options.maxInFlight ?? HELLO_MAX_IN_FLIGHT,
      onBusy: (msg) => {
        options.metrics.hellos.inc({ outcome: 'busy' });
        this.#reply(msg, { accepted: false, reason: 'the control plane is busy with other hellos; retry' });
      },
    });
  }

  /** Forget a node's hello pace (it was garbage-collected). */
  forgetNode(node: string): void {
    this.#perNode?.forget(node);
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
    // The cheap refusals come before the message is parsed: a flood of names costs a lookup each.
    const limit = this.#o.nodeLimit;
    const isNew = limit !== undefined && !limit.isKnown(subjectNode);
    // New nodes still being admitted count too, or a burst of hellos would all pass at once.
    if (limit && isNew && limit.count() + this.#admitting >= limit.max) {
      metrics.hellos.inc({ outcome: 'node-limit' });
      // Once a minute at most: a flood of new names must not become a flood of log lines.
      const now = Date.now();
      if (now - this.#limitLoggedAt >= 60_000) {
        this.#limitLoggedAt = now;
        log.warn({ node: subjectNode, maxNodes: limit.max }, 'hello refused: the fleet is at its node limit');
      }
      this.#reply(msg, { accepted: false, reason: `the fleet is at its limit of ${limit.max} nodes` });
      return;
    }
    if (this.#perNode && !this.#perNode.take(subjectNode, Date.now())) {
      metrics.hellos.inc({ outcome: 'rate-limited' });
      this.#reply(msg, { accepted: false, reason: 'too many hellos from this node; retry later' });
      return;
    }
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
    if (isNew) this.#admitting++;
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
      // Heartbeats of nodes without an EdgeNode are dropped, so reply once the cache has this one
      // (every replica gets the same watch event about as soon): the first heartbeats then count.
      if (isNew) await this.#untilKnown(hello.node);
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
    } finally {
      if (isNew) this.#admitting--;
    }
  }

  /** Waits a little for the node's EdgeNode to reach the cache; a node outside the selector never does. */
  async #untilKnown(node: string): Promise<void> {
    const isKnown = this.#o.nodeLimit?.isKnown;
    for (let waited = 0; isKnown && !isKnown(node) && waited < KNOWN_WAIT_MS; waited += KNOWN_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, KNOWN_POLL_MS));
    }
  }

  #reply(msg: Msg, r: Pick<HelloReplyT, 'accepted'> & { reason?: string }): void {
    if (!msg.reply) return;
    // The same few refusals answer floods: encoded once each.
    const cacheable = !r.accepted && r.reason !== undefined && REFUSALS_CACHED.some((p) => r.reason!.startsWith(p));
    const cached = cacheable ? this.#refusals.get(r.reason!) : undefined;
    if (cached) {
      msg.respond(cached);
      return;
    }
    const data = this.#encodeReply(r);
    if (cacheable) this.#refusals.set(r.reason!, data);
    msg.respond(data);
  }

  #encodeReply(r: Pick<HelloReplyT, 'accepted'> & { reason?: string }): Uint8Array {
    return encode(HelloReply, 'hello reply', {
      v: PROTOCOL_VERSION,
      accepted: r.accepted,
      ...(r.reason ? { reason: r.reason } : {}),
      heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
      fullEvery: FULL_EVERY,
    });
  }
}
