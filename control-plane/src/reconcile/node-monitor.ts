// The leader's view of node changes: the liveness sweep (node lifecycle: grace period,
// eviction delay, full disruption; see node-lifecycle.ts), EdgeNode status writes on
// meaningful change (or once a minute), which deployments a node change must re-plan (a
// crossed tier boundary, readiness or eviction, a workload phase), and noticing when the
// control plane itself lost telemetry (Redis flushed or away, NATS away).
import { randomBytes } from 'node:crypto';
import { EdgeNodeStatus, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { buildNodeStatus, nodeStatusRefreshMs, shouldWriteNodeStatus } from '../fleet/node-status.ts';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import { workloadSignature, type NodeTelemetry } from '../fleet/telemetry.ts';
import { describeKubeError } from '../kube/errors.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import { nodesKind } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { Metrics } from '../metrics.ts';
import { crossesTierBoundary, type NodeTelemetry as TierTelemetry } from '../placement/index.ts';
import { disruption, inDisruption, mayEvict, nodeReadiness, SITE_LABEL, type Disruption, type LifecycleSettings, type NodeLifecycle, type Readiness } from './node-lifecycle.ts';
import type { PlacementIndex } from './placement-index.ts';
import type { TelemetryView } from './telemetry-view.ts';
import { sameStatus } from './status.ts';

interface Seen extends TierTelemetry {
  workloads: string;
  evicted: boolean;
}

/** Why the control plane could not hear the fleet for a while. */
export type TelemetryLoss = 'redis-data-lost' | 'redis-unavailable' | 'nats-reconnected';

export interface NodeMonitorOptions {
  nodes: ResourceInformer<EdgeNode>;
  deployments: ResourceInformer<EdgeModelDeployment>;
  telemetry: TelemetryStore;
  /** Given the telemetry of each changed node as read here, so reconciles need not read it again. */
  telemetryView?: TelemetryView;
  statusWriter: StatusWriter;
  index: PlacementIndex;
  metrics: Metrics;
  log: Logger;
  heartbeatIntervalMs: number;
  lifecycle: LifecycleSettings;
  enqueue: (deploymentKey: string) => void;
  /** Ask these agents to make their next heartbeat a full one. */
  requestFullHeartbeats: (nodes: readonly string[]) => void;
  /** The control plane lost telemetry (and, for Redis, maybe placements): rebuild what it can. */
  onTelemetryLost?: (reason: TelemetryLoss) => Promise<void> | void;
  /**
   * A node `lifecycle` called NotReady is Ready again: its entry, held while it was away, is
   * brought up to date. Called on every such change of `lifecycle`, whichever check made it.
   */
  onNodeReturned?: (node: string) => void;
}

/** EdgeNode status writes in flight at once; deployment status and Events share the API server. */
const STATUS_CONCURRENCY = 4;

/**
 * How long EdgeNode status writes wait for reconciles at most: they yield to re-plans (a
 * battery crossing is a status write and a re-tier at once, and the re-tier is what the node
 * waits for), but a queue that never empties must not keep status from the API server.
 */
const STATUS_YIELD_MAX_MS = 2000;
/** How often yielding status writes look again whether they may start (the busy test may be time-based). */
const STATUS_YIELD_RECHECK_MS = 100;

export class NodeMonitor {
  readonly #o: NodeMonitorOptions;
  readonly #seen = new Map<string, Seen>();
  /** Nodes whose workload reports the control plane lost (Redis data); cleared by the next one. */
  readonly #reportsLost = new Set<string>();
  readonly #lastWrite = new Map<string, number>();
  /** When each node's status was last looked at, written or not. */
  readonly #lastCheck = new Map<string, number>();
  readonly #dirty = new Set<string>();
  readonly #readiness = new Map<string, Readiness>();
  /**
   * Nodes the sweep called NotReady while the change check last saw them Ready: planning read
   * that (lifecycle()) even if the check, reading a heartbeat the sweep had not, finds them Ready.
   */
  readonly #sweptDown = new Set<string>();
  readonly #evicted = new Set<string>();
  /** When each node's site (or the fleet) was last in full disruption. */
  readonly #lastDisrupted = new Map<string, number>();
  /** When each node was last asked for a full heartbeat. */
  readonly #askedAt = new Map<string, number>();
  #disruption: Disruption = { fleet: false, sites: new Set() };
  /** Since when this leader could hear the fleet without interruption (see nodeReadiness). */
  #listeningSinceMs = 0;
  #epoch: string | undefined;
  #redisOutage = false;
  #processing: Promise<void> | undefined;
  /**
   * Status writes waiting, the newest per node (insertion order is arrival order). They run
   * apart from the change processing, so one node's API server round trip never delays the
   * re-plan another node's change asks for.
   */
  readonly #statusPending = new Map<string, { write: () => Promise<void>; sinceMs: number }>();
  /** Whether reconciles are waiting or running, so status writes wait (see setStatusYield). */
  #statusYield: (() => boolean) | undefined;
  /** Runs the status writes whose wait for the reconciles ran out, should nothing else start them first. */
  #statusRetry: NodeJS.Timeout | undefined;
  readonly #statusInFlight = new Set<string>();
  #statusIdle: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(options: NodeMonitorOptions) {
    this.#o = options;
  }

  /**
   * While `busy()` says reconciles are waiting, running or likely to come, EdgeNode status writes
   * do not start (for at most STATUS_YIELD_MAX_MS); it is asked again after each reconcile, when
   * the queue empties (resumeStatusWrites()) and every STATUS_YIELD_RECHECK_MS meanwhile.
   */
  setStatusYield(busy: (() => boolean) | undefined): void {
    this.#statusYield = busy;
  }

  /** Starts the status writes that waited for the reconciles, as far as they may run now. */
  resumeStatusWrites(): void {
    if (this.#statusPending.size > 0) this.#pumpStatus();
  }

  /** Starts the sweep; resolves once the first one ran (or failed), so decisions exist. */
  start(): Promise<void> {
    this.#stopped = false;
    this.#listeningSinceMs = Date.now();
    let first: () => void = () => {};
    const firstDone = new Promise<void>((resolve) => (first = resolve));
    const interval = this.#o.heartbeatIntervalMs;
    let dueAtMs = Date.now();
    let deferred = false;
    const tick = () => {
      if (this.#stopped) return first();
      const now = Date.now();
      // Late by more than an interval: this process stalled, and the heartbeats that came
      // meanwhile are still unread. Judge one interval later, after they are read; only once
      // in a row, so a process that is always slow still judges.
      if (!deferred && sweepStalled(dueAtMs, now, interval)) {
        deferred = true;
        this.#o.log.warn({ lateMs: now - dueAtMs }, 'liveness sweep ran late (control plane stalled): judging after the queued heartbeats are read');
        dueAtMs = now + interval;
        this.#timer = setTimeout(tick, interval);
        return;
      }
      deferred = false;
      void this.sweep()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'liveness sweep failed'))
        .finally(() => {
          first();
          dueAtMs = Date.now() + interval;
          if (!this.#stopped) this.#timer = setTimeout(tick, interval);
        });
    };
    this.#timer = setTimeout(tick, 0);
    return firstDone;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#statusRetry);
    this.#statusRetry = undefined;
    await this.#processing;
    this.#statusPending.clear();
    if (this.#statusInFlight.size > 0) await new Promise<void>((resolve) => this.#statusIdle.push(resolve));
    this.#seen.clear();
    this.#reportsLost.clear();
    this.#dirty.clear();
    this.#lastCheck.clear();
    this.#readiness.clear();
    this.#sweptDown.clear();
    this.#evicted.clear();
    this.#lastDisrupted.clear();
    this.#askedAt.clear();
    this.#disruption = { fleet: false, sites: new Set() };
    this.#epoch = undefined;
    this.#redisOutage = false;
  }

  /**
   * What placement may assume about a node: undefined until the first sweep decided (then
   * callers fall back to the EdgeNode's Reachable condition and evict nothing).
   */
  lifecycle(node: string): NodeLifecycle | undefined {
    const r = this.#readiness.get(node);
    return r ? { ready: r.ready, evicted: this.#evicted.has(node) } : undefined;
  }

  /**
   * The control plane could not hear the fleet for a while: silence until now is not the
   * nodes' fault, so the grace period restarts, and every agent is asked for a full heartbeat
   * rather than leaving power, link and workloads unknown until its next scheduled full one.
   */
  async telemetryLost(reason: TelemetryLoss): Promise<void> {
    if (this.#stopped) return;
    const now = Date.now();
    this.#listeningSinceMs = now;
    const nodes = this.#o.nodes.keys();
    this.#o.log.warn({ reason, nodes: nodes.length }, 'telemetry lost on the control plane side: grace period restarted, full heartbeats requested');
    for (const n of nodes) this.#askedAt.set(n, now);
    this.#o.telemetryView?.clear();
    if (reason === 'redis-data-lost') {
      // Workload reports were lost with the data: the first one each node sends again must
      // reach its deployments' status even when it says what it said before, and even before
      // the placements are rebuilt (so by the keys it reports, not by the placement index).
      for (const n of nodes) this.#reportsLost.add(n);
    }
    this.#o.requestFullHeartbeats(nodes);
    try {
      await this.#o.onTelemetryLost?.(reason);
    } catch (err) {
      this.#o.log.warn({ err, reason }, 'could not rebuild after a telemetry loss; the next resync retries');
    }
  }

  /** The node is gone (its EdgeNode deleted): nothing about it stays in memory. */
  forgetNode(node: string): void {
    this.#o.telemetryView?.forget(node);
    this.#seen.delete(node);
    this.#reportsLost.delete(node);
    this.#lastWrite.delete(node);
    this.#lastCheck.delete(node);
    this.#dirty.delete(node);
    this.#readiness.delete(node);
    this.#sweptDown.delete(node);
    this.#evicted.delete(node);
    this.#lastDisrupted.delete(node);
    this.#askedAt.delete(node);
  }

  /** Something about the node may have changed; look at it soon. */
  nodeChanged(node: string): void {
    if (this.#stopped) return;
    // Before anything else: a reconcile that starts now must not plan with what was held.
    this.#o.telemetryView?.changed(node);
    this.#dirty.add(node);
    this.#processing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#process());
  }

  /**
   * Decides every node's readiness and eviction, and marks nodes dirty whose decision
   * differs from what was last seen or written, or whose status is due for its
   * once-a-minute refresh.
   */
  async sweep(): Promise<void> {
    const names = this.#o.nodes.keys();
    let lastSeen: (number | null)[];
    try {
      // A new candidate each time: after a flush the stored id is a new one, never ours again.
      const before = await this.#o.telemetry.epoch(randomBytes(8).toString('hex'));
      lastSeen = await this.#o.telemetry.lastSeen(names);
      // Read again after the last-seen times: a flush between the two reads empties every
      // record while the first read still saw the old epoch.
      const after = await this.#o.telemetry.epoch(randomBytes(8).toString('hex'));
      const { lost, id } = epochLoss(this.#epoch, before, after);
      this.#epoch = id;
      if (lost) await this.telemetryLost('redis-data-lost');
      else if (this.#redisOutage) await this.telemetryLost('redis-unavailable');
      this.#redisOutage = false;
    } catch (err) {
      this.#redisOutage = true;
      throw err;
    }
    const now = Date.now();
    const { lifecycle } = this.#o;
    const members: { name: string; site: string | undefined; ready: boolean }[] = [];
    const unknown: string[] = [];
    names.forEach((name, i) => {
      const node = this.#o.nodes.get(name);
      const seen = lastSeen[i] ?? null;
      const prev = this.#readiness.get(name) ?? readinessFromStatus(node, now);
      const readiness = nodeReadiness({ nowMs: now, lastSeenMs: seen, listeningSinceMs: this.#listeningSinceMs, prev }, lifecycle);
      this.#setReadiness(name, prev, readiness);
      members.push({ name, site: node?.metadata.labels?.[SITE_LABEL], ready: readiness.ready });
      if (seen === null && readiness.ready && now - (this.#askedAt.get(name) ?? 0) >= lifecycle.gracePeriodMs / 2) unknown.push(name);
    });
    const before = this.#disruption;
    const d = disruption(members, lifecycle);
    this.#disruption = d;
    this.#logDisruption(before, d, members);
    let unreachable = 0;
    const refreshMs = nodeStatusRefreshMs(names.length);
    for (const { name, site, ready } of members) {
      if (!ready) unreachable++;
      const disrupted = inDisruption(site, d);
      if (disrupted) this.#lastDisrupted.set(name, now);
      const evicted = mayEvict({ nowMs: now, readiness: this.#readiness.get(name)!, disrupted, lastDisruptedMs: this.#lastDisrupted.get(name) }, lifecycle);
      if (evicted) this.#evicted.add(name);
      else this.#evicted.delete(name);
      const seen = this.#seen.get(name);
      const statusReachable = this.#o.nodes.get(name)?.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
      const due = now - (this.#lastCheck.get(name) ?? 0) >= refreshMs;
      if (!seen || seen.ready !== ready || seen.evicted !== evicted || statusReachable !== ready || due) this.nodeChanged(name);
      if (seen?.ready && !ready) this.#sweptDown.add(name);
    }
    // A record gone for one node only (expired, forgotten): ask that node alone.
    if (unknown.length > 0) {
      for (const n of unknown) this.#askedAt.set(n, now);
      this.#o.requestFullHeartbeats(unknown);
    }
    this.#o.metrics.unreachableNodes.set(unreachable);
  }

  #logDisruption(before: Disruption, after: Disruption, members: readonly { site: string | undefined; ready: boolean }[]): void {
    const notReady = members.filter((m) => !m.ready).length;
    if (before.fleet !== after.fleet) {
      if (after.fleet) this.#o.log.warn({ notReady, nodes: members.length }, 'full disruption: most of the fleet is silent at once; evicting nothing');
      else this.#o.log.info({ notReady, nodes: members.length }, 'full disruption over; eviction delays restart now');
    }
    for (const site of after.sites) if (!before.sites.has(site)) this.#o.log.warn({ site }, 'full disruption of a site: most of its nodes are silent at once; evicting nothing there');
    for (const site of before.sites) if (!after.sites.has(site)) this.#o.log.info({ site }, 'full disruption of a site over; eviction delays restart now');
  }

  async #process(): Promise<void> {
    try {
      while (this.#dirty.size > 0 && !this.#stopped) {
        const nodes = [...this.#dirty];
        this.#dirty.clear();
        const token = this.#o.telemetryView?.readStarted();
        const telemetry = await this.#o.telemetry.readMany(nodes);
        if (token) this.#o.telemetryView?.put(nodes, telemetry, token);
        const now = Date.now();
        for (const name of nodes) this.#evaluate(name, telemetry.get(name), now);
      }
    } catch (err) {
      // Redis away: the sweep notices the outage and comes back to every node.
      this.#o.log.warn({ err }, 'could not read node telemetry');
      this.#dirty.clear();
    } finally {
      this.#processing = undefined;
      if (this.#dirty.size > 0 && !this.#stopped) this.nodeChanged([...this.#dirty][0]!);
    }
  }

  #evaluate(name: string, t: NodeTelemetry | undefined, now: number): void {
    const node = this.#o.nodes.get(name);
    if (!node) return;
    // A heartbeat may have arrived since the sweep: decide again with it, eviction as swept.
    const prev = this.#readiness.get(name) ?? readinessFromStatus(node, now);
    const readiness = nodeReadiness({ nowMs: now, lastSeenMs: t?.lastSeenMs ?? null, listeningSinceMs: this.#listeningSinceMs, prev }, this.#o.lifecycle);
    this.#setReadiness(name, prev, readiness);
    if (readiness.ready) this.#evicted.delete(name);
    const reachable = readiness.ready;
    const seen = this.#seen.get(name);
    const sweptDown = this.#sweptDown.delete(name);
    const after: Seen = {
      power: t?.power ?? node.status?.power,
      network: t?.network ?? node.status?.network,
      ready: reachable && !!node.status?.accelerators?.length,
      // No record, or a record without workloads yet (Redis lost it): unknown, not "none".
      workloads: t?.workloads ? workloadSignature(t.workloads) : (seen?.workloads ?? ''),
      evicted: this.#evicted.has(name),
    };
    // Ready again after a sweep called it NotReady: a return, though this check never saw it
    // away (a plan in between placed nothing there, and the replicas that found no node retry).
    const before = seen && sweptDown && after.ready ? { ...seen, ready: false } : seen;
    this.#seen.set(name, after);
    this.#lastCheck.set(name, now);
    if (t?.workloads && this.#reportsLost.delete(name)) {
      for (const w of t.workloads) if (this.#o.deployments.get(w.key)) this.#o.enqueue(w.key);
    }
    this.#enqueueAffected(name, before, after);
    const refreshMs = nodeStatusRefreshMs(this.#o.nodes.size);
    // A status written before this term (by hello, or another leader) counts as written at its
    // heartbeat time: the fleet's refreshes stay spread as they were, instead of all at once.
    if (!this.#lastWrite.has(name)) {
      const writtenAt = Date.parse(node.status?.lastHeartbeatTime ?? '');
      if (Number.isFinite(writtenAt)) this.#lastWrite.set(name, Math.min(writtenAt, now));
    }
    // Only what would be written is queued (decided again when it runs), so writes that are
    // needed do not wait behind a thousand that are not.
    if (!shouldWriteNodeStatus(node.status, buildNodeStatus(node.status, { telemetry: t, reachable, now: new Date(now) }), this.#lastWrite.get(name), now, refreshMs)) return;
    // Written from the EdgeNode as cached when the write runs; a node deleted meanwhile is skipped.
    this.#queueStatus(name, async () => {
      const current = this.#o.nodes.get(name);
      if (current) await this.#writeStatus(current, t, reachable, now);
    });
  }

  /** Queues a node's status write behind its earlier one; a newer one for the same node replaces a waiting one. */
  #queueStatus(name: string, write: () => Promise<void>): void {
    const sinceMs = this.#statusPending.get(name)?.sinceMs ?? Date.now();
    this.#statusPending.delete(name);
    this.#statusPending.set(name, { write, sinceMs });
    this.#pumpStatus();
  }

  #pumpStatus(): void {
    const now = Date.now();
    const yielding = this.#statusYield?.() ?? false;
    for (const [name, { write, sinceMs }] of this.#statusPending) {
      if (this.#statusInFlight.size >= STATUS_CONCURRENCY || this.#stopped) break;
      // Arrival order: once one entry may not run yet, the later ones may not either. Looked at
      // again when the queue empties, after each reconcile, and on a short timer.
      if (yielding && now - sinceMs < STATUS_YIELD_MAX_MS) {
        if (!this.#statusRetry) {
          this.#statusRetry = setTimeout(
            () => {
              this.#statusRetry = undefined;
              this.#pumpStatus();
            },
            Math.min(STATUS_YIELD_RECHECK_MS, STATUS_YIELD_MAX_MS - (now - sinceMs)),
          );
          this.#statusRetry.unref();
        }
        break;
      }
      if (this.#statusInFlight.has(name)) continue;
      this.#statusPending.delete(name);
      this.#statusInFlight.add(name);
      void write()
        .catch((err: unknown) => this.#o.log.warn({ node: name, err }, 'could not write node status'))
        .finally(() => {
          this.#statusInFlight.delete(name);
          if (this.#statusInFlight.size === 0) for (const resolve of this.#statusIdle.splice(0)) resolve();
          this.#pumpStatus();
        });
    }
  }

  /**
   * Records the readiness `lifecycle` reports. Its return to Ready is announced here, from the
   * very record an entry's hold was decided by: a sweep that read a heartbeat late can call a
   * node NotReady for the moment before the change check reads it Ready, and a write held in
   * that moment must still go (a return judged by the change check's own view never saw the
   * node away, and the entry stayed stale until the next resync).
   */
  #setReadiness(name: string, prev: Readiness | undefined, next: Readiness): void {
    this.#readiness.set(name, next);
    if (prev?.ready === false && next.ready) this.#o.onNodeReturned?.(name);
  }

  #enqueueAffected(name: string, before: Seen | undefined, after: Seen): void {
    const { index, deployments, enqueue } = this.#o;
    const placedHere = new Set(index.keysOnNode(name));
    for (const key of placedHere) {
      const d = deployments.get(key);
      if (!d) continue;
      const cap = index.get(key).find((p) => p.node === name)?.cap;
      if (!before || before.workloads !== after.workloads || before.evicted !== after.evicted || crossesTierBoundary(d.spec, before, after, cap)) enqueue(key);
    }
    // A node that became usable, or changed tier, may take replicas that found no node.
    for (const d of deployments.list()) {
      const key = `${d.metadata.namespace}/${d.metadata.name}`;
      if (placedHere.has(key)) continue;
      const short = index.get(key).length < d.spec.replicas;
      if (short && (!before || before.ready !== after.ready || crossesTierBoundary(d.spec, before, after))) enqueue(key);
    }
  }

  async #writeStatus(node: EdgeNode, t: NodeTelemetry | undefined, reachable: boolean, now: number): Promise<void> {
    const name = node.metadata.name ?? '';
    const next = buildNodeStatus(node.status, { telemetry: t, reachable, now: new Date(now) });
    if (!shouldWriteNodeStatus(node.status, next, this.#lastWrite.get(name), now, nodeStatusRefreshMs(this.#o.nodes.size))) return;
    try {
      await this.#o.statusWriter.write(
        { kind: nodesKind, name },
        (current) => {
          const parsed = EdgeNodeStatus.safeParse(current.status ?? {});
          const prev = parsed.success ? parsed.data : undefined;
          const built = buildNodeStatus(prev, { telemetry: t, reachable, now: new Date(now) });
          // The cache may lag our own last write: nothing to do if the stored status has it.
          return sameStatus(prev, built) ? null : built;
        },
        node as unknown as KubernetesObject,
      );
      this.#lastWrite.set(name, now);
      if (node.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True' && !reachable) {
        this.#o.log.warn({ node: name, gracePeriodMs: this.#o.lifecycle.gracePeriodMs }, 'node NotReady: no heartbeat for the grace period');
      }
    } catch (err) {
      this.#o.log.warn({ node: name, err: describeKubeError(err) }, 'could not write node status');
    }
  }
}

/**
 * Whether Redis lost its data since the last sweep, from the epoch read before and after the
 * last-seen times: lost if the first read differs from what was known (or created it), or if
 * the two reads differ (the flush landed between them, so the last-seen times read are empty).
 */
export function epochLoss(known: string | undefined, before: { id: string; created: boolean }, after: { id: string; created: boolean }): { lost: boolean; id: string } {
  const lostBefore = known !== undefined ? before.id !== known : before.created;
  return { lost: lostBefore || after.id !== before.id, id: after.id };
}

/**
 * Whether a sweep fired so late that the control plane itself stalled (event loop blocked,
 * CPU starved): heartbeats that arrived meanwhile are still queued unread, so silence it
 * would judge now is ours, not the nodes'.
 */
export function sweepStalled(dueAtMs: number, nowMs: number, intervalMs: number): boolean {
  return nowMs - dueAtMs > intervalMs;
}

/** A decision made before this term, as the EdgeNode records it; the eviction delay restarts. */
function readinessFromStatus(node: EdgeNode | undefined, nowMs: number): Readiness | undefined {
  const reachable = node?.status?.conditions?.find((c) => c.type === 'Reachable')?.status;
  if (reachable === 'True') return { ready: true };
  if (reachable === 'False') return { ready: false, notReadySinceMs: nowMs };
  return undefined;
}
