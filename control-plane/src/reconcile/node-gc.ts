// Garbage collection of departed nodes, on the leader: a node silent for longer than gcAfterMs
// loses its EdgeNode first; once no placement names it any more, its Redis telemetry and its
// KV assignment go too, and every replica forgets what it kept in memory about it. A node
// silent for less than gcAfterMs is never touched, whatever Redis has lost: its last sign of
// life is the newest of Redis, the EdgeNode's lastHeartbeatTime and its creation time.
import type { EdgeNode } from '@edgeplane/api';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import { describeKubeError, isNotFound } from '../kube/errors.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import { crd, nodesKind } from '../kube/resources.ts';
import type { Metrics } from '../metrics.ts';
import type { PlacementIndex } from './placement-index.ts';

/** Leftover nodes (no EdgeNode) cleaned per pass at most, so one pass stays short. */
const LEFTOVERS_PER_PASS = 1000;

/** The last sign of life of a node, ms since the epoch; 0 when nothing says. */
export function lastAliveMs(node: Pick<EdgeNode, 'metadata' | 'status'>, redisLastSeenMs: number | null): number {
  const times = [redisLastSeenMs ?? 0, Date.parse(node.status?.lastHeartbeatTime ?? ''), Date.parse(node.metadata.creationTimestamp ?? '')];
  return Math.max(0, ...times.filter((t) => Number.isFinite(t)));
}

/** Departed: silent for longer than gcAfterMs by every record there is. */
export function isDeparted(node: Pick<EdgeNode, 'metadata' | 'status'>, redisLastSeenMs: number | null, nowMs: number, gcAfterMs: number): boolean {
  const alive = lastAliveMs(node, redisLastSeenMs);
  return alive > 0 && nowMs - alive > gcAfterMs;
}

export interface NodeCollectorOptions {
  nodes: ResourceInformer<EdgeNode>;
  custom: CustomObjectsApi;
  telemetry: TelemetryStore;
  index: PlacementIndex;
  jsm: JetStreamManager;
  /** KV bucket of the assignments. */
  bucket: string;
  /** The same bucket, read to find entries of nodes that have neither EdgeNode nor telemetry. */
  kv?: KV;
  metrics: Metrics;
  log: Logger;
  gcAfterMs: number;
  /** Between passes; absent: a tenth of gcAfterMs, within 1 s..60 s. */
  intervalMs?: number;
  mayWrite: () => boolean;
  onKubeWrite?: (resource: string) => void;
  /** A node's leftovers are gone: forget what memory holds about it. */
  onCollected?: (node: string) => void;
}

export interface CollectResult {
  edgeNodes: string[];
  leftovers: string[];
  /** KV entries of nodes known nowhere else (Redis lost them), unwritten for gcAfterMs. */
  orphanEntries: string[];
}

export class NodeCollector {
  readonly #o: NodeCollectorOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = true;

  constructor(options: NodeCollectorOptions) {
    this.#o = options;
  }

  get intervalMs(): number {
    return this.#o.intervalMs ?? Math.min(60_000, Math.max(1000, Math.floor(this.#o.gcAfterMs / 10)));
  }

  start(): void {
    this.#stopped = false;
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.collect()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'node garbage collection failed; the next pass retries'))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass; exposed for tests. */
  async collect(nowMs = Date.now()): Promise<CollectResult> {
    const o = this.#o;
    const result: CollectResult = { edgeNodes: [], leftovers: [], orphanEntries: [] };
    if (!o.mayWrite()) return result;
    const names = o.nodes.keys();
    const seen = await o.telemetry.lastSeen(names);
    for (const [i, name] of names.entries()) {
      const node = o.nodes.get(name);
      if (!node || !isDeparted(node, seen[i] ?? null, nowMs, o.gcAfterMs)) continue;
      if (!o.mayWrite()) return result;
      try {
        await o.custom.deleteClusterCustomObject({ ...crd, plural: nodesKind.plural, name });
        o.onKubeWrite?.('edgenodes');
      } catch (err) {
        if (!isNotFound(err)) {
          o.log.warn({ node: name, err: describeKubeError(err) }, 'could not delete a departed EdgeNode; the next pass retries');
          continue;
        }
      }
      o.metrics.nodesCollected.inc({ what: 'edgenode' });
      o.log.info({ node: name, silentForMs: nowMs - lastAliveMs(node, seen[i] ?? null) }, 'departed node garbage-collected: EdgeNode deleted');
      result.edgeNodes.push(name);
    }

    // Telemetry and assignment of nodes without an EdgeNode (collected above in an earlier pass,
    // deleted by an operator, or a hello that never got one), once placement moved off them.
    const stale = await o.telemetry.staleSince(nowMs - o.gcAfterMs);
    for (const name of stale.slice(0, LEFTOVERS_PER_PASS)) {
      if (o.nodes.get(name) || o.index.workloadsOn(name) > 0) continue;
      if (!o.mayWrite()) return result;
      await this.#purgeAssignment(name);
      await o.telemetry.forget(name);
      o.metrics.nodesCollected.inc({ what: 'telemetry' });
      o.onCollected?.(name);
      result.leftovers.push(name);
    }
    if (result.leftovers.length > 0) o.log.info({ nodes: result.leftovers.length, node: result.leftovers[0] }, 'departed nodes garbage-collected: telemetry and assignments removed');
    await this.#collectOrphanEntries(nowMs, result);
    return result;
  }

  /**
   * KV entries of nodes with no EdgeNode and no placement, written more than gcAfterMs ago:
   * what is left when Redis lost the last-seen time the pass above goes by.
   */
  async #collectOrphanEntries(nowMs: number, result: CollectResult): Promise<void> {
    const o = this.#o;
    if (!o.kv) return;
    const candidates: string[] = [];
    for await (const key of await o.kv.keys()) {
      if (!o.nodes.get(key) && o.index.workloadsOn(key) === 0) candidates.push(key);
      if (candidates.length >= LEFTOVERS_PER_PASS) break;
    }
    for (const node of candidates) {
      const entry = await o.kv.get(node);
      if (!entry || entry.operation !== 'PUT' || nowMs - entry.created.getTime() <= o.gcAfterMs) continue;
      if (!o.mayWrite() || o.nodes.get(node) || o.index.workloadsOn(node) > 0) return;
      await this.#purgeAssignment(node);
      o.onCollected?.(node);
      result.orphanEntries.push(node);
    }
    if (result.orphanEntries.length > 0) o.log.info({ nodes: result.orphanEntries.length, node: result.orphanEntries[0] }, 'assignments of nodes known nowhere else garbage-collected');
  }

  /** Removes every message of the node's key, leaving no delete marker behind to pile up. */
  async #purgeAssignment(node: string): Promise<void> {
    const { jsm, bucket, metrics } = this.#o;
    const r = await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${node}` });
    if (r.purged > 0) metrics.nodesCollected.inc({ what: 'assignment' });
  }
}
