// Heartbeat ingestion: every replica subscribes in the queue group, so each heartbeat is
// handled once. Messages are decoded synchronously in the subscription callback and
// written to Redis in pipelined batches, so one round trip carries many heartbeats.
// A delta's `seq` is checked against the one stored before it (read in the same pipeline, so
// every replica of the queue group sees the node's whole sequence): a gap means a delta was
// lost (core NATS dropped it, or this side dropped or failed its batch), so the node is asked
// for a full heartbeat at once instead of leaving a section stale until its next full one.
import { decode, encode, Heartbeat, NodeCommand, NodeName, nodeFromSubject, PROTOCOL_VERSION, subjects } from '@edgeplane/api';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { HelloAgain } from './hello-again.ts';
import type { MalformedReporter } from './malformed.ts';
import { KeyedRateLimit } from './rate-limit.ts';
import type { TelemetryStore, TelemetryWrite } from './telemetry-store.ts';
import { heartbeatChanges, heartbeatFields, type ChangeDigest } from './telemetry.ts';

export interface HeartbeatIngestorOptions {
  nc: NatsConnection;
  store: TelemetryStore;
  metrics: Metrics;
  malformed: MalformedReporter;
  log: Logger;
  /** A heartbeat changed power, network or a workload phase of the node. */
  onChange?: (node: string) => void;
  /** Largest batch per pipeline. */
  maxBatch?: number;
  /** Pipelines in flight at once; more batches wait. */
  maxInFlight?: number;
  /** Batches that may wait for Redis; past this the oldest is dropped, so memory stays bounded. */
  maxWaiting?: number;
  /**
   * Whether the node has an EdgeNode. Heartbeats of other nodes are counted and dropped before
   * any write or per-node state. Absent: every node counts as known.
   */
  isKnown?: (node: string) => boolean;
  /**
   * Asks a node whose heartbeat was dropped as unknown to say hello again (paced there), so a
   * node whose admission was lost is admitted instead of ignored for ever. Absent: never asked.
   */
  helloAgain?: HelloAgain;
  /**
   * Per-node pace: heartbeats past `burst`, earning one back every `refillMs`, are counted and
   * dropped. Absent: no limit.
   */
  perNode?: { burst: number; refillMs: number };
  /**
   * Full-heartbeat requests on a gap: at most one per node every `perNodeMs` (its full heartbeat
   * is on the way; default 10 s, two default intervals) and `perSecond` in all (default 200; a
   * gap left unrepaired is still covered by the node's periodic full heartbeat).
   */
  gapRepair?: { perNodeMs?: number; perSecond?: number };
}

const FULL_HEARTBEAT = encode(NodeCommand, 'node command', { v: PROTOCOL_VERSION, op: 'full-heartbeat' });
const DEFAULT_GAP_REPAIR_PER_NODE_MS = 10_000;
const DEFAULT_GAP_REPAIR_PER_SECOND = 200;

/** How often a summary of refused heartbeats is logged at most, ms. */
const REFUSED_LOG_WINDOW_MS = 60_000;

type RefusedReason = 'unknown-node' | 'rate-limited';

interface Batch {
  writes: TelemetryWrite[];
  /** Per write: the delta's seq, checked against the stored one; undefined for a full heartbeat. */
  seqs: (number | undefined)[];
  /** Nodes whose heartbeat in this batch changed something the leader looks at. */
  changed: string[];
}

export class HeartbeatIngestor {
  readonly #o: HeartbeatIngestorOptions;
  readonly #digests = new Map<string, ChangeDigest>();
  #batch: TelemetryWrite[] = [];
  #seqs: (number | undefined)[] = [];
  readonly #gapPerNode: KeyedRateLimit;
  readonly #gapAll: KeyedRateLimit;
  #scheduled = false;
  #inFlight = 0;
  #waiting: Batch[] = [];
  #sub: Subscription | undefined;
  #idle: (() => void)[] = [];
  #ingested = 0;
  readonly #perNode: KeyedRateLimit | undefined;
  /** Refused since the last summary line, by reason, with one node named as an example. */
  readonly #refused = new Map<RefusedReason, { count: number; example: string }>();
  #refusedLoggedAt = 0;

  constructor(options: HeartbeatIngestorOptions) {
    this.#o = options;
    // Only known nodes reach the limiter, so the key bound is a backstop, not the usual case.
    this.#perNode = options.perNode ? new KeyedRateLimit({ ...options.perNode, maxKeys: 1_000_000 }) : undefined;
    const perSecond = options.gapRepair?.perSecond ?? DEFAULT_GAP_REPAIR_PER_SECOND;
    this.#gapPerNode = new KeyedRateLimit({ burst: 1, refillMs: options.gapRepair?.perNodeMs ?? DEFAULT_GAP_REPAIR_PER_NODE_MS, maxKeys: 1_000_000 });
    this.#gapAll = new KeyedRateLimit({ burst: perSecond, refillMs: 1000 / perSecond, maxKeys: 1 });
  }

  start(): void {
    this.#sub = this.#o.nc.subscribe(subjects.allStatus, {
      queue: subjects.ingestQueue,
      callback: (err, msg) => {
        if (err) {
          this.#o.log.warn({ err }, 'heartbeat subscription error');
          return;
        }
        this.ingest(msg.subject, msg.data);
      },
    });
  }

  /** Handles one heartbeat message; exposed so benchmarks and tests can drive it directly. */
  ingest(subject: string, data: Uint8Array): void {
    const node = nodeFromSubject(subject);
    if (node === null || !NodeName.safeParse(node).success) {
      this.#o.malformed.report('heartbeat', subject, 'subject does not name a valid node');
      return;
    }
    const decoded = decode(Heartbeat, 'heartbeat', data);
    if (!decoded.ok) {
      this.#o.malformed.report('heartbeat', node, decoded.error.message);
      return;
    }
    const hb = decoded.value;
    const now = Date.now();
    if (this.#o.isKnown && !this.#o.isKnown(node)) {
      this.#o.helloAgain?.unknownHeartbeat(node, now);
      return this.#refuse('unknown-node', node, now);
    }
    if (this.#perNode && !this.#perNode.take(node, now)) return this.#refuse('rate-limited', node, now);
    const delta = !hb.full;
    this.#batch.push({ node, fields: heartbeatFields(hb, now), lastSeenMs: now, ...(delta ? { readPrevSeq: true } : {}) });
    this.#seqs.push(delta ? hb.seq : undefined);
    const digest = heartbeatChanges(this.#digests.get(node), hb);
    if (digest) {
      this.#digests.set(node, digest);
      this.#pendingChanges.add(node);
    }
    if (this.#batch.length >= (this.#o.maxBatch ?? 1000)) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      // Everything that arrived in this turn of the event loop goes in one pipeline.
      setImmediate(() => this.#flush());
    }
  }

  readonly #pendingChanges = new Set<string>();

  /** Heartbeats written to Redis by this ingestor so far. */
  get ingested(): number {
    return this.#ingested;
  }

  /** Resolves once every heartbeat received so far is in Redis. */
  async drained(): Promise<void> {
    if (this.#batch.length) this.#flush();
    if (this.#inFlight === 0 && this.#waiting.length === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    await this.drained();
  }

  /** Forget what was seen of a node, so its next heartbeat counts as a change. */
  forgetNode(node: string): void {
    this.#digests.delete(node);
    this.#perNode?.forget(node);
    this.#gapPerNode.forget(node);
  }

  /** A delta whose predecessor never reached Redis: ask the node for everything, paced. */
  #gap(node: string): void {
    const now = Date.now();
    if (!this.#gapPerNode.take(node, now) || !this.#gapAll.take('', now)) {
      this.#o.metrics.heartbeatGaps.inc({ outcome: 'limited' });
      return;
    }
    this.#o.metrics.heartbeatGaps.inc({ outcome: 'requested' });
    this.#o.log.debug({ node }, 'heartbeat gap; full heartbeat requested');
    this.#o.nc.publish(subjects.command(node), FULL_HEARTBEAT);
  }

  /** Counted, and summarised in one log line per window however many senders there are. */
  #refuse(reason: RefusedReason, node: string, now: number): void {
    this.#o.metrics.heartbeatsRefused.inc({ reason });
    const r = this.#refused.get(reason);
    if (r) r.count++;
    else this.#refused.set(reason, { count: 1, example: node });
    if (now - this.#refusedLoggedAt < REFUSED_LOG_WINDOW_MS) return;
    this.#refusedLoggedAt = now;
    for (const [why, { count, example }] of this.#refused) {
      if (why === 'unknown-node') {
        // Cumulative: how many of those nodes were asked for a hello, and how many asks were paced.
        const hellos = this.#o.helloAgain?.counts();
        this.#o.log.warn({ reason: why, heartbeats: count, node: example, ...(hellos ? { hellosAsked: hellos.asked, hellosPaced: hellos.limited } : {}) }, 'dropped heartbeats from nodes with no EdgeNode');
      } else this.#o.log.warn({ reason: why, heartbeats: count, node: example }, 'dropped heartbeats past their node\'s rate');
    }
    this.#refused.clear();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0) return;
    const batch: Batch = { writes: this.#batch, seqs: this.#seqs, changed: [...this.#pendingChanges] };
    this.#batch = [];
    this.#seqs = [];
    this.#pendingChanges.clear();
    if (this.#inFlight >= (this.#o.maxInFlight ?? 4)) {
      this.#waiting.push(batch);
      if (this.#waiting.length > (this.#o.maxWaiting ?? 256)) this.#drop(this.#waiting.shift()!);
      return;
    }
    this.#send(batch);
  }

  /**
   * Telemetry is a latest-value store: a node's next heartbeat supersedes a dropped one, and
   * since the dropped seq never reached Redis, that next one shows the gap and is repaired.
   */
  #drop({ writes, changed }: Batch): void {
    this.#o.metrics.heartbeatsDropped.inc(writes.length);
    this.#o.log.warn({ heartbeats: writes.length }, 'Redis is behind; dropped the oldest waiting heartbeats');
    // Their changes were never written: the next heartbeat of those nodes must count as one.
    for (const node of changed) this.#digests.delete(node);
  }

  #send({ writes, seqs, changed }: Batch): void {
    this.#inFlight++;
    this.#o.store
      .write(writes)
      .then(
        (prevSeqs) => {
          for (let i = 0; i < writes.length; i++) {
            const seq = seqs[i];
            const prev = prevSeqs[i];
            // No stored seq: the node's telemetry is gone, which the node monitor handles.
            if (seq !== undefined && typeof prev === 'number' && seq !== prev + 1) this.#gap(writes[i]!.node);
          }
          this.#ingested += writes.length;
          this.#o.metrics.heartbeatsIngested.inc(writes.length);
          // Only after the write, so whoever reacts reads the new telemetry.
          for (const node of changed) this.#o.onChange?.(node);
        },
        (err: unknown) => {
          // Telemetry is refreshed by the next heartbeat; losing one batch is not fatal.
          this.#o.log.error({ err, heartbeats: writes.length }, 'heartbeat batch write failed');
          for (const node of changed) this.#digests.delete(node);
        },
      )
      .finally(() => {
        this.#inFlight--;
        const next = this.#waiting.shift();
        if (next) this.#send(next);
        else if (this.#inFlight === 0 && this.#batch.length === 0) {
          for (const resolve of this.#idle.splice(0)) resolve();
        }
      });
  }
}
