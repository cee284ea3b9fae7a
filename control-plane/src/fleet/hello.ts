// Answers agents' hello requests: creates or updates the EdgeNode, writes its status and
// telemetry, and replies with the heartbeat interval. Only the leader subscribes, since a
// hello writes to Kubernetes; an agent retries its hello until a leader answers.
//
// A hello is answered once the node is admitted (its telemetry in Redis), not once Kubernetes
// has it: EdgeNode writes go through one keyed queue (a bounded number of requests at once, a
// node's waiting writes collapsed into its latest hello), so a burst of hellos is answered at
// Redis speed and its EdgeNodes follow at the API server's. A failed write is retried while this
// replica leads. For a new node (no EdgeNode in the cache) the hello is first kept in Redis
// (hello-pending.ts) until its EdgeNode is written, so a leader that dies meanwhile leaves it to
// the next one; its heartbeats count on the leader from the reply on, and once its EdgeNode is
// in the cache it is asked for a full heartbeat, which restores anything another replica dropped
// before then.
import { decode, encode, Hello, HelloReply, NodeCommand, nodeFromSubject, PROTOCOL_VERSION, subjects, type HelloReply as HelloReplyT } from '@edgeplane/api';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { ensureEdgeNode, type EnsureNodeOptions } from '../kube/edgenodes.ts';
import { KeyedWriteQueue } from '../kube/keyed-write-queue.ts';
import { describeKubeError, httpStatus } from '../kube/errors.ts';
import { NotLeaderError } from '../errors.ts';
import type { PendingHello, PendingHellos } from './hello-pending.ts';
import { nodesKind } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import { EdgeNodeStatus, type EdgeNode } from '@edgeplane/api';
import type { MalformedReporter } from './malformed.ts';
import { buildNodeStatus, isAnyChange } from './node-status.ts';
import type { TelemetryStore } from './telemetry-store.ts';
import { helloFields, parseTelemetry } from './telemetry.ts';
import { RequestLoop } from './request-loop.ts';
import { KeyedRateLimit } from './rate-limit.ts';

/**
 * Every n-th heartbeat carries the full state: every 5 min at the default 5 s interval. A lost
 * delta does not wait for it: the heartbeat ingestor sees the gap in `seq` and asks the node
 * for a full heartbeat at once, so the periodic one is only the backstop.
 */
export const FULL_EVERY = 60;

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
  /** Hellos handled at once; more are answered "busy" at once, with no write. Absent: HELLO_MAX_IN_FLIGHT. */
  maxInFlight?: number;
  /** Per-node pace of hellos: `burst`, then one more every `refillMs`. Absent: no limit. */
  perNode?: { burst: number; refillMs: number };
  /**
   * The fleet's size bound: a hello from a node with no EdgeNode is refused, with no write, once
   * `count()` nodes reach `max`. Absent: no bound.
   */
  nodeLimit?: { max: number; count: () => number; isKnown: (node: string) => boolean };
  /** The cache's copy of a node's EdgeNode, or null: saves the read before each write. */
  cached?: (node: string) => EdgeNode | null;
  /** EdgeNode writes in flight at once. Absent: HELLO_WRITE_CONCURRENCY. */
  writeConcurrency?: number;
  /** Delays before a failed EdgeNode write is tried again, ms. Absent: HELLO_RETRY_MS. */
  retryMs?: readonly number[];
  /**
   * Where a new node's hello waits for its EdgeNode. Absent: a new node is answered only once its
   * EdgeNode is written and in the cache.
   */
  pending?: PendingHellos;
}

/** Default bound on EdgeNode requests in flight for hellos. */
export const HELLO_WRITE_CONCURRENCY = 32;
/** Delays before a failed write is tried again while this replica leads, ms; a new node's goes on at the last. */
export const HELLO_RETRY_MS: readonly number[] = [1000, 5000, 15_000];
/** How long a new node whose EdgeNode is written waits for the cache to have it, at most, ms. */
const FULL_HEARTBEAT_WAIT_MS = 5000;

/** How long, and how many, EdgeNodes just written are remembered until the cache has them. */
const RECORDED_KEPT_MS = 30_000;
const RECORDED_KEPT = 20_000;

/** What one hello asks to record in Kubernetes. */
type NodeRecord = PendingHello;

/**
 * Default bound on hellos handled at once. Their Kubernetes requests are bounded apart (the write
 * queue), so this bounds what waits: enough that a burst is queued rather than told to come back.
 */
export const HELLO_MAX_IN_FLIGHT = 512;
/** How long a new node's hello waits for its EdgeNode to reach the cache, and how often it looks, ms. */
const KNOWN_WAIT_MS = 1000;
const KNOWN_POLL_MS = 10;
/** Refusals whose text never names the node, so one encoding serves every sender. */
const REFUSALS_CACHED = ['the control plane is busy', 'too many hellos', 'the fleet is at its limit'];
/** Sent to a new node once its EdgeNode is cached. */
const FULL_HEARTBEAT_COMMAND = encode(NodeCommand, 'node command', { v: PROTOCOL_VERSION, op: 'full-heartbeat' });
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
  readonly #writes: KeyedWriteQueue<NodeRecord, void>;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  /** The latest hello of each node whose write is under way, so a retry never writes an older one. */
  readonly #refreshing = new Map<string, number>();
  /** New nodes answered whose EdgeNode is not written yet. */
  readonly #pendingNew = new Set<string>();
  #stopped = false;
  /**
   * EdgeNodes this replica just wrote, until the cache has them: an agent whose hello timed out
   * while its write waited comes back before the watch event, and must not cost a second create.
   */
  readonly #recorded = new Map<string, { obj: KubernetesObject & { status?: unknown }; atMs: number }>();

  constructor(options: HelloResponderOptions) {
    this.#o = options;
    this.#perNode = options.perNode ? new KeyedRateLimit({ ...options.perNode, maxKeys: HELLO_TRACKED_NODES }) : undefined;
    this.#writes = new KeyedWriteQueue({ concurrency: options.writeConcurrency ?? HELLO_WRITE_CONCURRENCY, write: (node, r) => this.#record(node, r) });
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

  /** Forget a node's hello pace and the EdgeNode last written for it (it was deleted). */
  forgetNode(node: string): void {
    this.#perNode?.forget(node);
    // A hello right after the delete must create the EdgeNode again, not trust the copy written.
    this.#recorded.delete(node);
  }

  start(): void {
    this.#stopped = false;
    this.#loop.start();
    if (this.#o.pending) void this.#resumePending(this.#o.pending);
  }

  /** Whether the node was answered and its EdgeNode is being written: its heartbeats count. */
  isAdmitted(node: string): boolean {
    return this.#pendingNew.has(node);
  }

  /** Hellos a previous leader answered and never wrote to Kubernetes: written now. */
  async #resumePending(pending: PendingHellos): Promise<void> {
    try {
      const { pending: left, dropped } = await pending.all();
      if (dropped.length) this.#o.log.warn({ nodes: dropped.length, node: dropped[0] }, 'dropped unreadable pending hellos');
      if (left.length) this.#o.log.info({ nodes: left.length, node: left[0]!.hello.node }, 'writing the EdgeNodes of hellos answered before this term');
      for (const p of left) {
        if (this.#stopped) return;
        if (this.#refreshing.has(p.hello.node)) continue; // a newer hello of this term
        this.#pendingNew.add(p.hello.node);
        this.#recordLater(p.hello.node, p, 0);
      }
    } catch (err) {
      // Redis away: the next term (or the node's next hello) comes back to them.
      this.#o.log.warn({ err }, 'could not read pending hellos');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    await this.#loop.stop();
    // The writes still queued fail at their leadership check; those in flight end on their own.
    // Waiting for them would hold up the next leadership transition behind a slow API server.
    // What is still pending is in Redis, for the next leader.
    this.#pendingNew.clear();
    this.#refreshing.clear();
  }

  async handle(msg: Msg): Promise<void> {
    const { metrics, log } = this.#o;
    const subjectNode = nodeFromSubject(msg.subject) ?? msg.subject;
    // The cheap refusals come before the message is parsed: a flood of names costs a lookup each.
    const limit = this.#o.nodeLimit;
    const isNew = limit !== undefined && !limit.isKnown(subjectNode) && !this.#pendingNew.has(subjectNode);
    // New nodes still being admitted count too, or a burst of hellos would all pass at once.
    if (limit && isNew && limit.count() + this.#admitting + this.#pendingNew.size >= limit.max) {
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
      const cached = this.#o.cached?.(hello.node) ?? this.#justRecorded(hello.node);
      const record: NodeRecord = { hello, atMs: now };
      if (cached) {
        // Known: heartbeats count already; the refresh follows in the queue.
        this.#recordLater(hello.node, record, 0);
      } else if (this.#o.pending) {
        // New: kept in Redis until its EdgeNode is written, then answered.
        await this.#o.pending.add(record);
        this.#pendingNew.add(hello.node);
        this.#recordLater(hello.node, record, 0);
      } else {
        await this.#writes.submit(hello.node, { hello, atMs: now });
        // Heartbeats of nodes without an EdgeNode are dropped, so reply once the cache has this one
        // (every replica gets the same watch event about as soon): the first heartbeats then count.
        if (isNew) await this.#untilKnown(hello.node);
        // The Kubernetes writes can take a while; the node counts as seen from the reply on.
        const repliedAt = Date.now();
        await this.#o.store.write([{ node: hello.node, fields: { lastSeenMs: String(repliedAt) }, lastSeenMs: repliedAt }]);
      }
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

  /** Labels and status of the node from its hello; the EdgeNode is created when there is none. */
  async #record(node: string, { hello, atMs }: NodeRecord): Promise<void> {
    const o = this.#o;
    const opts: EnsureNodeOptions = { custom: o.custom, mayWrite: o.mayWrite, ...(o.onKubeWrite ? { onWrite: o.onKubeWrite } : {}) };
    // The cache's copy is the object as the API server sent it, parsed: a valid first "read".
    const obj = await ensureEdgeNode(opts, node, hello.labels, ((o.cached?.(node) as KubernetesObject | null | undefined) ?? this.#justRecorded(node)) as (KubernetesObject & { status?: unknown }) | null);
    const telemetry = parseTelemetry(helloFields(hello, atMs));
    const capability = { agentVersion: hello.agentVersion, host: hello.host, accelerators: hello.accelerators };
    const stored = await o.statusWriter.write(
      { kind: nodesKind, name: node },
      (current) => {
        const parsed = EdgeNodeStatus.safeParse(current.status ?? {});
        const prev = parsed.success && current.status ? parsed.data : undefined;
        const next = buildNodeStatus(prev, { capability, telemetry, reachable: true, now: new Date(atMs) });
        // A node saying hello again as it was (a reconnect): no write; the node monitor refreshes
        // the heartbeat time on its own rhythm.
        return isAnyChange(prev, next) ? next : null;
      },
      obj,
    );
    this.#recorded.delete(node);
    this.#recorded.set(node, { obj: stored ?? obj, atMs: Date.now() });
    // Oldest first: those the cache has long had.
    for (const [name, r] of this.#recorded) {
      if (this.#recorded.size <= RECORDED_KEPT && Date.now() - r.atMs < RECORDED_KEPT_MS) break;
      this.#recorded.delete(name);
    }
  }

  /** Whether the cache's EdgeNode of the node carries no hello's status (agent version). */
  #lacksHelloStatus(node: string): boolean {
    if (!this.#o.cached) return false;
    return !this.#o.cached(node)?.status?.agentVersion;
  }

  /** The EdgeNode as this replica last wrote it, while the cache may not have it yet. */
  #justRecorded(node: string): (KubernetesObject & { status?: unknown }) | null {
    const r = this.#recorded.get(node);
    if (!r) return null;
    if (Date.now() - r.atMs >= RECORDED_KEPT_MS || this.#o.cached?.(node)) {
      this.#recorded.delete(node);
      return null;
    }
    return r.obj;
  }

  /**
   * Writes the node's hello after its reply. A failure is logged and tried again while this
   * replica leads; a new node's write is tried until it succeeds, unless the API server refuses
   * the object itself. Losing the Lease leaves a new node's pending hello to the next leader.
   */
  #recordLater(node: string, r: NodeRecord, attempt: number): void {
    if (attempt === 0) this.#refreshing.set(node, r.atMs);
    const superseded = () => this.#refreshing.get(node) !== r.atMs;
    const isNewNode = this.#pendingNew.has(node);
    this.#writes.submit(node, r).then(
      () => {
        const latest = !superseded();
        if (latest) this.#refreshing.delete(node);
        if (!isNewNode) return;
        void this.#o.pending?.remove(r).catch((err: unknown) => this.#o.log.warn({ node, err }, 'could not clear a pending hello; the next leader writes it again'));
        if (latest) void this.#admitted(node);
      },
      (err: unknown) => {
        if (superseded()) return;
        const status = httpStatus(err);
        // The API server refuses the object itself (invalid, forbidden): retrying cannot help.
        const refused = status !== undefined && status >= 400 && status < 500 && status !== 409 && status !== 429;
        // A renewal running late refuses writes (NotLeaderError) while this replica still leads:
        // retried like any failure. Only stop() (the Lease lost) leaves them to the next leader.
        const leading = !this.#stopped;
        const schedule = this.#o.retryMs ?? HELLO_RETRY_MS;
        const retryMs = schedule[Math.min(attempt, schedule.length - 1)]!;
        // A known node whose EdgeNode never got a hello's status (created, then its status write
        // lost) is never Ready and never says hello again: it is retried like a new node.
        const mustWrite = isNewNode || this.#lacksHelloStatus(node);
        if (!leading || refused || (!mustWrite && attempt >= schedule.length)) {
          this.#refreshing.delete(node);
          this.#pendingNew.delete(node);
          if (refused && isNewNode) void this.#o.pending?.remove(r).catch(() => undefined);
          const log = refused ? this.#o.log.error.bind(this.#o.log) : this.#o.log.warn.bind(this.#o.log);
          log({ node, err: describeKubeError(err) }, refused ? 'the API server refused the EdgeNode of a node that said hello' : leading ? 'could not record the hello of a known node; its next hello records it' : 'not leading: the EdgeNode of a node that said hello is left to the next leader');
          return;
        }
        this.#o.log[err instanceof NotLeaderError ? 'debug' : 'info']({ node, err: describeKubeError(err), retryInMs: retryMs }, 'could not record a hello; retrying');
        const t = setTimeout(() => {
          this.#retryTimers.delete(t);
          if (this.#stopped || superseded()) return;
          this.#recordLater(node, r, attempt + 1);
        }, retryMs);
        this.#retryTimers.add(t);
      },
    );
  }

  /**
   * A new node's EdgeNode is written: it stays admitted (its heartbeats count, it counts towards
   * the fleet's size) until the cache has it, then a full heartbeat restores what was dropped.
   */
  async #admitted(node: string): Promise<void> {
    for (let waited = 0; !this.#o.cached?.(node) && waited < FULL_HEARTBEAT_WAIT_MS; waited += KNOWN_POLL_MS * 10) {
      await new Promise((resolve) => setTimeout(resolve, KNOWN_POLL_MS * 10));
    }
    // A later hello's write under way keeps it admitted.
    if (!this.#refreshing.has(node)) this.#pendingNew.delete(node);
    if (this.#stopped || !this.#o.cached?.(node)) return;
    try {
      this.#o.nc.publish(subjects.command(node), FULL_HEARTBEAT_COMMAND);
    } catch (err) {
      // The connection is closing: the node's next full heartbeat comes on its own rhythm.
      this.#o.log.debug({ node, err }, 'could not ask a new node for a full heartbeat');
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
