// The dashboard's live picture of the fleet, kept by each replica that serves it: nodes joined
// with their telemetry, deployments from the informer. Changed nodes are re-read from Redis at
// most once a second (the ingest replicas announce changes on NATS); every node is re-read once
// per history tick (10 s), which is also when the leader appends each node's sample to Redis.
// A replica that is not the leader and has served no dashboard for a minute does nothing.
import {
  HISTORY_INTERVAL_MS,
  type DashboardEvent,
  type EdgeModelDeployment,
  type EdgeNode,
  type FleetDeployment,
  type HistorySample,
} from '@edgeplane/api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisKeys } from '../fleet/keys.ts';
import { parseTelemetry, TelemetryField, type NodeTelemetry } from '../fleet/telemetry.ts';
import { sampleOf } from './history-pack.ts';
import type { HistoryStore } from './history-store.ts';
import { deploymentSignature, fleetDeployment, fleetNode, nodeSignature, precisionLookup, toFleetNode, type LiveNode, type PrecisionOf } from './views.ts';

/** What the model needs of an informer. */
export interface Cache<T> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  on(handler: (type: 'add' | 'update' | 'delete', key: string, obj: T) => void): void;
}

export interface FleetModelOptions {
  nodes: Cache<EdgeNode>;
  deployments: Cache<EdgeModelDeployment>;
  redis: Redis;
  history: HistoryStore;
  /** A node silent this long shows as unreachable, ms. */
  gracePeriodMs: number;
  /** The leader writes the history; the others only serve it. */
  isLeader: () => boolean;
  log: Logger;
  /** Changed nodes are re-read this often, ms; default 1000. */
  flushMs?: number;
  /** History tick, ms; default HISTORY_INTERVAL_MS. */
  tickMs?: number;
  /** Without the lead or a dashboard request for this long the model rests, ms; default 60 s. */
  idleAfterMs?: number;
  now?: () => number;
}

export type ModelListener = (event: DashboardEvent) => void;

/** The fleet snapshot as sent: JSON text, and the fleet version it was taken at. */
export interface SnapshotBody {
  version: number;
  atMs: number;
  json: string;
}

/** A node's hash as read: its sections' text, parsed only when it changed. */
interface RawTelemetry {
  lastSeenMs: number;
  /** power, network and workloads as stored, joined. */
  text: string;
  hash: Record<string, string | undefined>;
}

/** What a node's view was last built from. */
interface BuiltFrom {
  text: string | null;
  node: EdgeNode;
  precisionGen: number;
}

/** Fields the fleet view needs; cachedArtifacts (up to 1,024 digests) and load are left in Redis. */
const FIELDS = [TelemetryField.seq, TelemetryField.lastSeenMs, TelemetryField.power, TelemetryField.network, TelemetryField.workloads] as const;
/** Nodes per pipeline when every node is re-read. */
const READ_CHUNK = 1000;

const depKey = (d: EdgeModelDeployment) => `${d.metadata.namespace ?? ''}/${d.metadata.name ?? ''}`;
const variantsSignature = (d: EdgeModelDeployment) => d.spec.model.variants.map((v) => `${v.name}:${v.precision}`).join(',');

export class FleetModel {
  readonly #o: FleetModelOptions;
  readonly #now: () => number;
  readonly #nodes = new Map<string, LiveNode>();
  /** Each node's FleetNode as JSON, made once per change: nothing in a FleetNode changes without a new LiveNode. */
  readonly #nodeJson = new WeakMap<LiveNode, string>();
  /** Node names in snapshot order; null after a node came or went. */
  #sortedNames: string[] | null = null;
  /** Bumped by every change a snapshot shows (a node or deployment set or removed). */
  #version = 0;
  #body: SnapshotBody | null = null;
  readonly #nodeSigs = new Map<string, string>();
  readonly #deps = new Map<string, FleetDeployment>();
  readonly #depSigs = new Map<string, string>();
  readonly #variantSigs = new Map<string, string>();
  readonly #dirty = new Set<string>();
  readonly #listeners = new Set<ModelListener>();
  #precisionOf: PrecisionOf | null = null;
  #precisionGen = 0;
  readonly #builtFrom = new Map<string, BuiltFrom>();
  #rev = 0;
  #fresh = false;
  #lastUseMs = -Infinity;
  #busy: Promise<void> = Promise.resolve();
  #flushTimer: NodeJS.Timeout | undefined;
  #tickTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: FleetModelOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    options.nodes.on((type, name) => {
      if (type === 'delete') this.#removeNode(name);
      else this.#dirty.add(name);
    });
    options.deployments.on((type, key, d) => this.#onDeployment(type, key, d));
  }

  start(): void {
    this.#flushTimer = setInterval(() => void this.#serial(() => this.flush()), this.#o.flushMs ?? 1000);
    this.#flushTimer.unref();
    this.#scheduleTick();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#flushTimer);
    clearTimeout(this.#tickTimer);
  }

  on(listener: ModelListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A dashboard request: keeps this replica's model awake. */
  touch(): void {
    this.#lastUseMs = this.#now();
  }

  /** An ingest replica saw the node's power, link or workloads change. */
  markChanged(node: string): void {
    this.#dirty.add(node);
  }

  get active(): boolean {
    return this.#o.isLeader() || this.#now() - this.#lastUseMs < (this.#o.idleAfterMs ?? 60_000);
  }

  node(name: string): LiveNode | undefined {
    return this.#nodes.get(name);
  }

  precisionOf(): PrecisionOf {
    this.#precisionOf ??= precisionLookup(this.#o.deployments.list());
    return this.#precisionOf;
  }

  /**
   * The fleet snapshot (FleetSnapshot) as JSON text, taken again only when the fleet changed
   * since the last one: each node's part is kept from its last change, so a 5,000-node fleet
   * with a few changes costs a join, not a serialisation of every node.
   */
  async snapshotBody(): Promise<SnapshotBody> {
    this.touch();
    if (!this.#fresh) await this.#serial(() => this.refreshAll());
    const deployments = this.#allDeployments();
    if (this.#body?.version === this.#version) return this.#body;
    this.#sortedNames ??= [...this.#nodes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const parts: string[] = new Array(this.#sortedNames.length);
    this.#sortedNames.forEach((name, i) => {
      const n = this.#nodes.get(name)!;
      let json = this.#nodeJson.get(n);
      if (json === undefined) this.#nodeJson.set(n, (json = JSON.stringify(toFleetNode(n))));
      parts[i] = json;
    });
    const atMs = this.#now();
    this.#body = { version: this.#version, atMs, json: `{"atMs":${atMs},"nodes":[${parts.join(',')}],"deployments":${JSON.stringify(deployments)}}` };
    return this.#body;
  }

  /** Re-reads the nodes marked changed; called every flushMs. */
  async flush(): Promise<void> {
    if (!this.active) {
      // Resting: what is cached goes stale, so the next snapshot reads everything again.
      this.#fresh = false;
      this.#dirty.clear();
      return;
    }
    if (this.#dirty.size === 0) return;
    const names = [...this.#dirty];
    this.#dirty.clear();
    const telemetry = await this.#read(names);
    for (const name of names) this.#update(name, telemetry.get(name));
  }

  /** Re-reads every node; returns each node's sample at `atMs`. */
  async refreshAll(atMs: number = this.#now()): Promise<Map<string, HistorySample>> {
    const names = this.#o.nodes.keys();
    this.#dirty.clear();
    const samples = new Map<string, HistorySample>();
    for (let i = 0; i < names.length; i += READ_CHUNK) {
      const chunk = names.slice(i, i + READ_CHUNK);
      const telemetry = await this.#read(chunk);
      for (const name of chunk) {
        const n = this.#update(name, telemetry.get(name));
        if (n) samples.set(name, sampleOf(n, atMs));
      }
    }
    for (const name of [...this.#nodes.keys()]) if (!this.#o.nodes.get(name)) this.#removeNode(name);
    this.#fresh = true;
    return samples;
  }

  /** One history tick: every node re-read, the leader appends the samples, listeners get them. */
  async tick(atMs: number = this.#now()): Promise<void> {
    if (!this.active) return;
    const samples = await this.refreshAll(atMs);
    if (this.#o.isLeader()) {
      await this.#o.history.append(samples).catch((err: unknown) => this.#o.log.warn({ err, nodes: samples.size }, 'could not append the dashboard history'));
    }
    for (const [node, sample] of samples) this.#emit({ type: 'sample', node, sample });
  }

  #scheduleTick(): void {
    if (this.#stopped) return;
    const tickMs = this.#o.tickMs ?? HISTORY_INTERVAL_MS;
    // On the tick's boundary, so every replica's samples share their times.
    const wait = tickMs - (this.#now() % tickMs);
    this.#tickTimer = setTimeout(() => {
      const at = this.#now();
      void this.#serial(() => this.tick(at)).finally(() => this.#scheduleTick());
    }, wait);
    this.#tickTimer.unref();
  }

  /** One read or refresh at a time; a failure is logged and the next period tries again. */
  #serial(fn: () => Promise<unknown>): Promise<void> {
    const run = this.#busy.then(fn).then(
      () => undefined,
      (err: unknown) => this.#o.log.warn({ err }, 'dashboard refresh failed'),
    );
    this.#busy = run;
    return run;
  }

  async #read(names: readonly string[]): Promise<Map<string, RawTelemetry>> {
    const out = new Map<string, RawTelemetry>();
    if (names.length === 0) return out;
    const p = this.#o.redis.pipeline();
    for (const n of names) p.hmget(redisKeys.node(n), ...FIELDS);
    const results = (await p.exec()) ?? [];
    names.forEach((n, i) => {
      const [err, values] = results[i] ?? [null, null];
      if (err || !Array.isArray(values)) return;
      const hash = Object.fromEntries(FIELDS.map((f, j) => [f, (values[j] as string | null) ?? undefined]));
      const lastSeenMs = Number(hash[TelemetryField.lastSeenMs]);
      if (hash[TelemetryField.lastSeenMs] == null || !Number.isFinite(lastSeenMs)) return;
      out.set(n, { lastSeenMs, text: `${hash.power ?? ''}\u0001${hash.network ?? ''}\u0001${hash.workloads ?? ''}`, hash });
    });
    return out;
  }

  #update(name: string, raw: RawTelemetry | undefined): LiveNode | undefined {
    const node = this.#o.nodes.get(name);
    if (!node) {
      this.#removeNode(name);
      return undefined;
    }
    const now = this.#now();
    const prev = this.#nodes.get(name);
    const built = this.#builtFrom.get(name);
    // Most nodes, most of the time: the same sections and the same EdgeNode. Only the heartbeat
    // time moves, so nothing is parsed or built again unless reachability flips.
    if (prev && built && built.node === node && built.text === (raw?.text ?? null) && built.precisionGen === this.#precisionGen && raw) {
      if (now - raw.lastSeenMs <= this.#o.gracePeriodMs === prev.reachable) {
        prev.lastSeenMs = raw.lastSeenMs;
        return prev;
      }
    }
    this.#builtFrom.set(name, { text: raw?.text ?? null, node, precisionGen: this.#precisionGen });
    const t: NodeTelemetry | undefined = raw ? (parseTelemetry(raw.hash) ?? undefined) : undefined;
    const next = fleetNode(node, t, this.precisionOf(), now, this.#o.gracePeriodMs, this.#rev + 1);
    const sig = nodeSignature(next);
    if (prev && this.#nodeSigs.get(name) === sig) {
      // Nothing to send; the snapshot and the history still get the latest figures.
      prev.lastSeenMs = next.lastSeenMs;
      prev.workloads = next.workloads;
      return prev;
    }
    this.#rev += 1;
    this.#version += 1;
    if (!prev) this.#sortedNames = null;
    this.#nodes.set(name, next);
    this.#nodeSigs.set(name, sig);
    if (this.#listeners.size > 0) this.#emit({ type: 'node', node: toFleetNode(next) });
    return next;
  }

  #removeNode(name: string): void {
    this.#dirty.delete(name);
    this.#builtFrom.delete(name);
    if (!this.#nodes.delete(name)) return;
    this.#version += 1;
    this.#sortedNames = null;
    this.#nodeSigs.delete(name);
    this.#emit({ type: 'node-removed', name });
  }

  #onDeployment(type: 'add' | 'update' | 'delete', key: string, d: EdgeModelDeployment): void {
    const k = depKey(d) || key;
    if (type === 'delete') {
      this.#variantSigs.delete(k);
      this.#precisionOf = null;
      this.#precisionGen += 1;
      if (this.#deps.delete(k)) {
        this.#version += 1;
        this.#depSigs.delete(k);
        this.#emit({ type: 'deployment-removed', namespace: d.metadata.namespace ?? '', name: d.metadata.name ?? '' });
      }
      return;
    }
    const variants = variantsSignature(d);
    if (this.#variantSigs.get(k) !== variants) {
      this.#variantSigs.set(k, variants);
      this.#precisionOf = null;
      this.#precisionGen += 1;
      // Nodes running it show their tier from the variants: read again on the next flush.
      for (const n of this.#nodes.values()) if (n.workloads.some((w) => w.deployment === k)) this.#dirty.add(n.name);
    }
    const next = fleetDeployment(d, this.#rev + 1);
    const sig = deploymentSignature(next);
    if (this.#depSigs.get(k) === sig) return;
    this.#rev += 1;
    this.#version += 1;
    this.#deps.set(k, next);
    this.#depSigs.set(k, sig);
    this.#emit({ type: 'deployment', deployment: next });
  }

  #allDeployments(): FleetDeployment[] {
    // The informer may have listed before this model subscribed: take in what it holds.
    for (const d of this.#o.deployments.list()) if (!this.#deps.has(depKey(d))) this.#onDeployment('add', depKey(d), d);
    return [...this.#deps.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  }

  #emit(event: DashboardEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#o.log.error({ err, event: event.type }, 'dashboard listener failed');
      }
    }
  }
}
