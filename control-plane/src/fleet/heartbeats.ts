// Heartbeat ingestion: every replica subscribes in the queue group, so each heartbeat is
// handled once. Messages are decoded synchronously in the subscription callback and
// written to Redis in pipelined batches, so one round trip carries many heartbeats.
import { decode, Heartbeat, NodeName, nodeFromSubject, subjects } from '@edgeplane/api';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { MalformedReporter } from './malformed.ts';
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
}

interface Batch {
  writes: TelemetryWrite[];
  /** Nodes whose heartbeat in this batch changed something the leader looks at. */
  changed: string[];
}

export class HeartbeatIngestor {
  readonly #o: HeartbeatIngestorOptions;
  readonly #digests = new Map<string, ChangeDigest>();
  #batch: TelemetryWrite[] = [];
  #scheduled = false;
  #inFlight = 0;
  #waiting: Batch[] = [];
  #sub: Subscription | undefined;
  #idle: (() => void)[] = [];
  #ingested = 0;

  constructor(options: HeartbeatIngestorOptions) {
    this.#o = options;
  }

  start(): void {
    this.#sub = this.#o.nc.subscribe(subjects.allStatus, {
      queue: subjects.ingestQueue,
      callback: (err, msg) => {
        if (err) {
          this.#o.log.warn({ err: err.message }, 'heartbeat subscription error');
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
    this.#batch.push({ node, fields: heartbeatFields(hb, now), lastSeenMs: now });
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
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0) return;
    const batch: Batch = { writes: this.#batch, changed: [...this.#pendingChanges] };
    this.#batch = [];
    this.#pendingChanges.clear();
    if (this.#inFlight >= (this.#o.maxInFlight ?? 4)) {
      this.#waiting.push(batch);
      if (this.#waiting.length > (this.#o.maxWaiting ?? 256)) this.#drop(this.#waiting.shift()!);
      return;
    }
    this.#send(batch);
  }

  /** Telemetry is a latest-value store: a node's next heartbeat supersedes a dropped one. */
  #drop({ writes, changed }: Batch): void {
    this.#o.metrics.heartbeatsDropped.inc(writes.length);
    this.#o.log.warn({ heartbeats: writes.length }, 'Redis is behind; dropped the oldest waiting heartbeats');
    // Their changes were never written: the next heartbeat of those nodes must count as one.
    for (const node of changed) this.#digests.delete(node);
  }

  #send({ writes, changed }: Batch): void {
    this.#inFlight++;
    this.#o.store
      .write(writes)
      .then(
        () => {
          this.#ingested += writes.length;
          this.#o.metrics.heartbeatsIngested.inc(writes.length);
          // Only after the write, so whoever reacts reads the new telemetry.
          for (const node of changed) this.#o.onChange?.(node);
        },
        (err: unknown) => {
          // Telemetry is refreshed by the next heartbeat; losing one batch is not fatal.
          this.#o.log.error({ err: (err as Error).message, heartbeats: writes.length }, 'heartbeat batch write failed');
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
