// Reconciles one EdgeModelDeployment by key: reads it from the informer cache, plans its
// placements against the fleet as it is now, persists them, publishes the assignment of
// every node they touch, and writes status and Events. Level-based: it never looks at the
// event that queued it, so a missed event costs nothing.
import { MAX_WORKLOADS_PER_NODE, type EdgeModelDeployment, type EdgeNode, type PlacementStatus, type VariantFailure, type WorkloadReport } from '@edgeplane/api';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NotLeaderError } from '../errors.ts';
import type { AssignmentPublisher, SyncResult } from '../fleet/assignment-publisher.ts';
import { nodeWorkloads, type PlacedDeployment } from '../fleet/assignment.ts';
import { hasFinalizer, type DeploymentFinalizer } from '../kube/finalizer.ts';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import { deploymentsKind, splitKey } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { Metrics } from '../metrics.ts';
import { isPlacementInputError, planDeployment } from '../placement/index.ts';
import type { Placement, PlacementOptions, PlanInput, PlanResult } from '../placement/types.ts';
import { FleetViews } from './fleet-views.ts';
import { planChangedNodes, type IncrementalPlan, type PlanBasis } from './incremental.ts';
import { TelemetryView } from './telemetry-view.ts';
import type { PlacementIndex } from './placement-index.ts';
import type { PlacementStore } from './placement-store.ts';
import type { ReconcileResult } from './queue.ts';
import { deploymentStatus, placementStatus, sameStatus, type StatusInput } from './status.ts';
import { setCondition } from '../fleet/node-status.ts';
import { forEachLimit } from './limit.ts';
import type { NodeLifecycle } from './node-lifecycle.ts';
import { DEFAULT_FAILURE_BACKOFF, describeFailure, trackFailures, type FailureBackoff } from './failures.ts';
import { escalationCondition, escalationStatus, escalationTargetKey, reportsEscalation, sumEscalationCounters, tierStateOf, withEscalation } from './escalation.ts';

export interface ReconcilerOptions {
  deployments: ResourceInformer<EdgeModelDeployment>;
  nodes: ResourceInformer<EdgeNode>;
  telemetry: TelemetryStore;
  /**
   * Telemetry kept current by the node monitor, shared with it; absent: the reconciler keeps its
   * own, reading every node from Redis each time.
   */
  telemetryView?: TelemetryView;
  placementStore: PlacementStore;
  index: PlacementIndex;
  publisher: AssignmentPublisher;
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
  heartbeatIntervalMs: number;
  /** The node monitor's decision per node (Ready, evicted); undefined before it has one. */
  lifecycle?: (node: string) => NodeLifecycle | undefined;
  mayWrite: () => boolean;
  placementOptions?: Partial<PlacementOptions>;
  /** How long a (node, variant) pair that failed is avoided; doubles per failure in a row. */
  failureBackoff?: FailureBackoff;
  /** Keeps deleted deployments until their workloads are out of KV; absent: no finalizer. */
  finalizer?: DeploymentFinalizer;
}

const placementId = (p: Placement) => `${p.node}|${p.accelerator}|${p.variant}|${p.precision}|${p.profile}|${p.cap}`;

export function samePlacements(a: readonly Placement[], b: readonly Placement[]): boolean {
  if (a.length !== b.length) return false;
  const x = a.map(placementId).sort();
  const y = b.map(placementId).sort();
  return x.every((v, i) => v === y[i]);
}

/**
 * "placed 3 replicas (0 new, 0 removed, 2 re-tiered): ...", comparing placements node by node.
 * `replicas`: the whole list's length, when `before` and `after` are only the part that was re-planned.
 */
export function describeChange(before: readonly Placement[], after: readonly Placement[], replicas: number = after.length): string {
  const prev = new Map(before.map((p) => [p.node, p]));
  const next = new Map(after.map((p) => [p.node, p]));
  let retiered = 0;
  let added = 0;
  let removed = 0;
  for (const [node, p] of next) {
    const old = prev.get(node);
    if (!old) added++;
    else if (old.variant !== p.variant || old.accelerator !== p.accelerator) retiered++;
  }
  for (const node of prev.keys()) if (!next.has(node)) removed++;
  const sample = after
    .slice(0, 5)
    .map((p) => `${p.node}/${p.accelerator} ${p.variant} (${p.tierReason})`)
    .join('; ');
  return `placed ${replicas} replicas (${added} new, ${removed} removed, ${retiered} re-tiered)${sample ? `: ${sample}` : ''}${after.length > 5 ? '; ...' : ''}`;
}

/** Nodes where a deployment's placements differ between two lists (added, removed or changed there). */
export function changedNodes(before: readonly Placement[], after: readonly Placement[]): Set<string> {
  const ids = (list: readonly Placement[]) => {
    const out = new Map<string, string[]>();
    for (const p of list) {
      const l = out.get(p.node);
      if (l) l.push(placementId(p));
      else out.set(p.node, [placementId(p)]);
    }
    return out;
  };
  const prev = ids(before);
  const next = ids(after);
  const changed = new Set<string>();
  for (const [node, l] of next) {
    const old = prev.get(node);
    if (!old || old.length !== l.length || old.sort().join(';') !== l.sort().join(';')) changed.add(node);
  }
  for (const node of prev.keys()) if (!next.has(node)) changed.add(node);
  return changed;
}

/** A deployment's last plan and the inputs besides node views that a shortcut needs unchanged. */
interface LastPlan {
  basis: PlanBasis;
  specText: string;
  excluded: string;
  /** Every other deployment's placement list and generation: they set committed memory and workloads. */
  others: Map<string, { list: readonly Placement[]; generation: number | undefined }>;
  /** What those gave the plan: the same while they are the same. */
  committedMiB: ReadonlyMap<string, number>;
  otherWorkloads: ReadonlyMap<string, number>;
}

/** Equal placement ids position by position (what Redis stores of a list, less its predictions). */
function sameInOrder(a: readonly Placement[], b: readonly Placement[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.node !== y.node || x.accelerator !== y.accelerator || x.variant !== y.variant || x.precision !== y.precision || x.profile !== y.profile || x.cap !== y.cap)) return false;
  }
  return true;
}

function sameOthers(a: LastPlan['others'], b: LastPlan['others']): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.list !== v.list || w.generation !== v.generation) return false;
  }
  return true;
}

/** A re-plan after a node went past its workload limit, ms. */
const OVERFULL_REQUEUE_MS = 1000;

/**
 * How long a deployment's status write waits at most while another reconcile of it is coming
 * (whose status supersedes it): a burst of crossings writes one status, not one per re-plan,
 * and a deployment that never stops changing still gets its status this often.
 */
const STATUS_YIELD_MAX_MS = 1000;
/** How often status writes that yielded look again whether they may start (the test may be time-based). */
const STATUS_RECHECK_MS = 50;

/**
 * A placement list split by node: `own` holds the nodes re-planned into this list (every entry
 * of each), the rest are as in `base`, the list it was made from (see #patchByNode).
 */
interface NodeSplit {
  own: Map<string, Placement[]>;
  base?: NodeSplit;
  depth: number;
}

/** Re-plans chained onto one full split before it is made again from the list. */
const MAX_SPLIT_DEPTH = 32;

/** The placements-by-precision gauge is counted at most this often while re-plans keep coming. */
const PLACEMENT_GAUGE_EVERY_MS = 1000;

/**
 * An escalating deployment whose nodes report counters (agents do for every workload that names
 * a tier) is reconciled again this many heartbeat intervals after the last time (30 s at the
 * default 5 s), to refresh them in status: at most one status write per deployment that often,
 * whatever the traffic.
 */
const ESCALATION_REFRESH_HEARTBEATS = 6;

/** Assignment writes in flight at once per reconcile. */
const PUBLISH_CONCURRENCY = 32;

export class DeploymentReconciler {
  readonly #o: ReconcilerOptions;
  /** Last failure message per deployment, so an unchanged failure is not re-announced. */
  readonly #lastFailure = new Map<string, string>();
  /** Variant failures per deployment as last computed; status holds the same for a new leader. */
  readonly #variantFailures = new Map<string, VariantFailure[]>();
  /** Nodes whose entry a deployment's last publish did not write yet (a failed write), retried first. */
  readonly #unpublished = new Map<string, Set<string>>();
  /**
   * Keys whose placements were planned (or removed) in this term: the index then holds this
   * term's picture of them, whether or not every KV write that followed succeeded.
   */
  readonly #reconciled = new Set<string>();
  /** Each placement list split by node, computed once per list (the index replaces, never mutates, them). */
  readonly #byNode = new WeakMap<readonly Placement[], NodeSplit>();
  readonly #telemetry: TelemetryView;
  readonly #views = new FleetViews();
  /** The spec each deployment's last complete publish wrote, as text; a different one rewrites every node. */
  readonly #publishedSpec = new Map<string, string>();
  /** Each placement's status as last built, with the reports it was built from. */
  readonly #statusOf = new WeakMap<Placement, { reports: readonly WorkloadReport[]; status: PlacementStatus }>();
  /** The placement list whose entries Redis holds at the same positions, per deployment. */
  readonly #saved = new Map<string, readonly Placement[]>();
  /** Each deployment's last plan, to re-plan only the nodes that changed since (incremental.ts). */
  readonly #lastPlan = new Map<string, LastPlan>();
  /** The newest status write per deployment not started yet; older ones are superseded. */
  readonly #statusPending = new Map<string, { write: () => Promise<void>; sinceMs: number }>();
  /** Whether another reconcile of the deployment is coming; its status write then waits for that one. */
  #statusYield: ((key: string) => boolean) | undefined;
  /** Looks again at status writes that yielded, should no reconcile or empty queue do it first. */
  #statusRetry: NodeJS.Timeout | undefined;
  /** Deployments whose status writes are running, with the promise of that run. */
  readonly #statusRunning = new Map<string, Promise<void>>();
  /** Where a failed status write sends its deployment back to (the queue, with backoff). */
  #requeue: ((key: string) => void) | undefined;
  /** Placements changed since the gauge was last counted, and when that was. */
  #placementGaugeDirty = false;
  #placementGaugeAtMs = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#telemetry = options.telemetryView ?? new TelemetryView(options.telemetry, 0);
  }

  /** The queue a failed status write sends its deployment back to; undefined: none. */
  setRequeue(requeue: ((key: string) => void) | undefined): void {
    this.#requeue = requeue;
  }

  /** Tells whether another reconcile of a deployment is (likely) coming (the queue's view); undefined: none. */
  setStatusYield(pending: ((key: string) => boolean) | undefined): void {
    this.#statusYield = pending;
  }

  /** Starts the deployment status writes that waited for their deployment's next reconcile, where they may run now. */
  resumeStatusWrites(): void {
    for (const key of this.#statusPending.keys()) this.#kickStatus(key);
  }

  /** The queue is empty: what waited for a quiet moment runs (status writes, the placements gauge). */
  idle(): void {
    this.resumeStatusWrites();
    if (this.#placementGaugeDirty) this.#updatePlacementGauge();
  }

  /** Resolves once no status write is waiting or running. */
  async drainStatusWrites(): Promise<void> {
    this.resumeStatusWrites();
    while (this.#statusRunning.size > 0) await Promise.all(this.#statusRunning.values());
  }

  /** A new term: nothing counts as reconciled until it is again. */
  startTerm(): void {
    this.#reconciled.clear();
    this.#unpublished.clear();
    this.#publishedSpec.clear();
    this.#lastPlan.clear();
    this.#saved.clear();
    this.#telemetry.clear();
    this.#views.clear();
  }

  /** A node's whole desired assignment, from the placements as they are now. */
  desiredFor = (node: string) => {
    const o = this.#o;
    const placed: PlacedDeployment[] = [];
    for (const key of o.index.keysOnNode(node)) {
      const d = o.deployments.get(key);
      if (d) placed.push({ key, spec: d.spec, placements: this.#placementsOn(key, node) });
    }
    return withEscalation(nodeWorkloads(node, placed), (key) => placed.find((d) => d.key === key)?.spec.escalation);
  };

  /**
   * Compares every node's KV entry with its desired assignment and rewrites what differs.
   * Skipped (null) until every deployment was reconciled in this term: before that the
   * placements may be a partial picture (a flushed cache), and writing them would unload nodes.
   */
  async syncAssignments(): Promise<SyncResult | null> {
    const o = this.#o;
    if (!o.mayWrite()) throw new NotLeaderError('sync assignments');
    const waiting = [...new Set([...o.deployments.keys(), ...o.index.keys()])].filter((k) => !this.#reconciled.has(k));
    if (waiting.length > 0) {
      o.log.debug({ waiting: waiting.length, deployment: waiting[0] }, 'assignment sync waits for every deployment to be reconciled in this term');
      return null;
    }
    const nodes = new Set<string>();
    for (const key of o.index.keys()) for (const p of o.index.get(key)) nodes.add(p.node);
    const result = await o.publisher.sync(nodes, this.desiredFor);
    if (result.repaired.length > 0) {
      o.log.warn({ repaired: result.repaired.length, checked: result.checked, nodes: result.repaired.slice(0, 20) }, 'assignment entries differed from the desired state; rewritten');
    }
    return result;
  }

  reconcile = async (key: string): Promise<ReconcileResult> => {
    try {
      const result = await this.#reconcile(key);
      this.#reconciled.add(key);
      return result;
    } finally {
      // A status write that waited for this reconcile goes now, unless yet another is coming.
      this.#kickStatus(key);
    }
  };

  #reconcile = async (key: string): Promise<ReconcileResult> => {
    const o = this.#o;
    if (!o.mayWrite()) throw new NotLeaderError(`reconcile ${key}`);
    const emd = o.deployments.get(key);
    if (!emd || emd.metadata.deletionTimestamp) {
      await this.#remove(key);
      // Only once no node's entry holds it any more does the object go.
      if (emd && o.finalizer && hasFinalizer(emd)) await o.finalizer.remove(emd);
      return {};
    }
    if (o.finalizer && !hasFinalizer(emd)) await o.finalizer.add(emd);
    const spec = emd.spec;
    const nodes = o.nodes.list();
    const telemetry = await this.#telemetry.read(nodes.map((n) => n.metadata.name ?? ''));
    const now = Date.now();
    // Built right before the plan, with no await between: the list is reused by the next reconcile.
    const views = this.#views.views(nodes, telemetry, now, o.lifecycle, this.#variantDigest, this.#digestVersion());
    const current = o.index.get(key);
    // Failed (node, variant) pairs, from what agents report now and what was remembered (in
    // memory, or in status when this replica has just become the leader).
    const failures = trackFailures({
      key,
      variants: spec.model.variants,
      current,
      reports: (node) => telemetry.get(node)?.workloads,
      known: [...(this.#variantFailures.get(key) ?? []), ...(emd.status?.failures ?? [])],
      backoff: o.failureBackoff ?? DEFAULT_FAILURE_BACKOFF,
      nowMs: now,
    });
    this.#variantFailures.set(key, failures.failures);
    const specText = JSON.stringify(spec);
    const excluded = failures.excluded.size === 0 ? '' : JSON.stringify([...failures.excluded].map(([n, v]) => [n, [...v].sort()]).sort());
    const others = this.#otherLists(key);
    const last = this.#lastPlan.get(key);
    const othersSame = last !== undefined && sameOthers(last.others, others);
    // Both depend on the other deployments alone: computed again only when one of them changed.
    const committedMiB = othersSame ? last.committedMiB : o.index.committedMiB(key, this.#memoryOf, this.#variantsOf);
    const otherWorkloads = othersSame ? last.otherWorkloads : o.index.otherWorkloads(key);
    let plan: Omit<PlanResult, 'placements'> & { placements: readonly Placement[] };
    let fast: IncrementalPlan | null = null;
    try {
      const input: PlanInput = {
        key,
        spec,
        nodes: views,
        current,
        committedMiB,
        otherWorkloads,
        nowMs: now,
        ...(failures.excluded.size > 0 ? { excludedVariants: failures.excluded } : {}),
        ...(o.placementOptions ? { options: o.placementOptions } : {}),
      };
      // A node's battery or link change re-plans only the replicas on the nodes that changed,
      // when that is provably the full plan's result (and nothing when no view changed since the
      // last plan); otherwise the whole deployment is planned.
      if (othersSame && last.specText === specText && last.excluded === excluded) fast = planChangedNodes(input, last.basis);
      plan = fast ? { placements: fast.placements, unplaced: 0 } : planDeployment(input);
    } catch (err) {
      this.#lastPlan.delete(key);
      if (!isPlacementInputError(err)) throw err;
      // Terminal: retrying cannot help until the input changes, so say so and stop.
      await this.#refuse(emd, key, err.code, err.message, now);
      return {};
    }

    // Placement ids include the node: equal on every node is equal as a whole (samePlacements).
    // A re-plan of the changed nodes compares only their positions; the rest are the same objects.
    const before = fast ? fast.positions.map((i) => current[i]!) : current;
    const after = fast ? fast.positions.map((i) => plan.placements[i]!) : plan.placements;
    const moved = changedNodes(before, after);
    const changed = moved.size > 0;
    if (changed) {
      if (!o.mayWrite()) throw new NotLeaderError(`store placements of ${key}`);
      // Positions are rewritten only over the very list Redis holds, entry for entry.
      if (fast && this.#saved.get(key) === current) await o.placementStore.saveAt(key, plan.placements, fast.positions);
      else await o.placementStore.save(key, plan.placements);
      this.#saved.set(key, plan.placements);
    } else {
      const saved = this.#saved.get(key);
      if (saved === undefined) {
        // Not known what order Redis holds (a new term): the next change writes the whole list.
      } else if ((fast && saved === current) || sameInOrder(saved, plan.placements)) {
        this.#saved.set(key, plan.placements);
      } else {
        // The same placements in another order (a first plan's are in placing order, a re-plan's
        // sorted): written once more, so that a later re-tier rewrites only its own entries.
        if (!o.mayWrite()) throw new NotLeaderError(`store placements of ${key}`);
        await o.placementStore.save(key, plan.placements);
        this.#saved.set(key, plan.placements);
      }
    }
    // Nothing re-planned: the index holds this very list already.
    const touched = plan.placements === current && o.index.get(key) === current ? null : o.index.set(key, plan.placements);
    if (fast) this.#patchByNode(current, plan.placements, fast.positions);
    // With nothing re-planned every view is the one of the last plan: its copy of them stands.
    const basisViews = fast && fast.positions.length === 0 && last ? last.basis.views : views.slice();
    this.#lastPlan.set(key, { basis: { views: basisViews, nowMs: now, placements: plan.placements }, specText, excluded, others, committedMiB, otherWorkloads });
    this.#reconciled.add(key);
    // Every node when the spec (variant uri, SLO) differs from the one last published; otherwise
    // only the nodes whose placements of this deployment changed.
    const allNodes = this.#publishedSpec.get(key) !== specText;
    this.#publishedSpec.delete(key);
    await this.#publish(key, allNodes ? (touched ?? new Set(plan.placements.map((p) => p.node))) : moved);
    this.#publishedSpec.set(key, specText);
    if (changed) this.#placementGaugeDirty = true;
    this.#updatePlacementGaugeSoon();
    // Two plans raced past a node's workload limit: plan again, and the node's filter refuses one.
    // A re-plan of the changed nodes added no workload anywhere else.
    const overfull = [...(fast ? fast.nodes : (touched ?? []))].some((n) => o.index.workloadsOn(n) > MAX_WORKLOADS_PER_NODE);

    // The status of this plan, built when its write runs: a re-plan of the same deployment that
    // comes first supersedes it unbuilt (a burst of crossings builds one 1,000-replica status,
    // not one per re-plan).
    const buildStatus = () => {
      // A node whose workload reports Redis lost (no record yet) keeps its last reported phase:
      // unknown is not Pending.
      const statuses = plan.placements.map((p) => {
        const reports = telemetry.get(p.node)?.workloads;
        if (reports === undefined) return emd.status?.placements?.find((s) => s.node === p.node && s.variant === p.variant && s.accelerator === p.accelerator) ?? placementStatus(p, reports);
        // The same placement and the same reports give the same status: reused, not rebuilt.
        const known = this.#statusOf.get(p);
        if (known?.reports === reports) return known.status;
        const built = placementStatus(p, reports);
        this.#statusOf.set(p, { reports, status: built });
        return built;
      });
      return deploymentStatus({
        generation: emd.metadata.generation,
        replicas: spec.replicas,
        placements: statuses,
        unplaced: plan.unplaced,
        planMessage: plan.message,
        failures: failures.failures,
        prev: emd.status,
        now: new Date(now),
        escalation: this.#escalationOf(key, emd, telemetry),
      });
    };
    // Status and Events go to the API server beside the queue: a 1,000-replica status takes a
    // few hundred ms there under load, and the next re-plan of this deployment (another node's
    // crossing) must not wait for it. A failed status write sends the deployment back to the queue.
    const { namespace, name } = splitKey(key);
    this.#writeStatusSoon(key, async () => {
      const status = buildStatus();
      if (sameStatus(emd.status, status)) return;
      await o.statusWriter.write({ kind: deploymentsKind, namespace, name }, (cur) => (sameStatus((cur as { status?: typeof status }).status, status) ? null : status), emd as unknown as KubernetesObject);
    });

    // EventRecorder logs its own failures and never rejects.
    for (const f of failures.fresh) {
      o.log.warn({ deployment: key, node: f.node, variant: f.variant, reason: f.reason, failures: f.count, retryAfter: f.retryAfter }, 'variant failed on node; placing another variant or node meanwhile');
      void o.events.record(emd, 'Warning', 'VariantFailed', 'Load', describeFailure(f, now));
    }
    if (changed) {
      o.log.info({ deployment: key, replicas: plan.placements.length, unplaced: plan.unplaced, nodesChanged: moved.size }, 'placements changed');
      void o.events.record(emd, 'Normal', 'Placed', 'Place', describeChange(before, after, plan.placements.length));
    }
    if (plan.unplaced > 0) {
      const message = `${plan.unplaced} of ${spec.replicas} replicas unplaced: ${plan.message ?? 'no node fits'}`;
      if (this.#lastFailure.get(key) !== message) {
        this.#lastFailure.set(key, message);
        o.log.warn({ deployment: key, unplaced: plan.unplaced, reason: plan.message }, 'replicas could not be placed');
        void o.events.record(emd, 'Warning', 'FailedPlacement', 'Place', message);
      }
    } else {
      this.#lastFailure.delete(key);
    }
    // Back when the first backoff ends, so the pair is tried again without waiting for a resync.
    // An escalating deployment whose nodes report counters comes back now and then to refresh
    // them in status (heartbeats carrying them trigger nothing, as measured latency does not).
    const refresh = spec.escalation && reportsEscalation(key, telemetry.values()) ? ESCALATION_REFRESH_HEARTBEATS * o.heartbeatIntervalMs : undefined;
    const requeue = [overfull ? OVERFULL_REQUEUE_MS : undefined, failures.nextRetryMs, refresh].filter((v): v is number => v !== undefined);
    return requeue.length > 0 ? { requeueAfterMs: Math.min(...requeue) } : {};
  };

  /**
   * status.escalation and its condition: the tier's availability from the informer's cache (a
   * change of it requeues this deployment, see escalation-index.ts) and the counters summed over
   * every node that reports this deployment.
   */
  #escalationOf(key: string, emd: EdgeModelDeployment, telemetry: ReadonlyMap<string, NodeTelemetry>): StatusInput['escalation'] {
    const target = emd.spec.escalation?.deployment;
    const targetKey = escalationTargetKey(emd);
    if (!target || !targetKey) return undefined;
    const state = tierStateOf(this.#o.deployments.get(targetKey));
    const counters = sumEscalationCounters(key, [...telemetry.values()].map((t) => t.workloads));
    return { status: escalationStatus(target, state === 'ready', counters), condition: escalationCondition(target, state) };
  }

  /** Runs a deployment's newest status write once the one running (if any) is done. */
  #writeStatusSoon(key: string, write: () => Promise<unknown>): void {
    const sinceMs = this.#statusPending.get(key)?.sinceMs ?? Date.now();
    this.#statusPending.set(key, {
      write: async () => {
        await write();
      },
      sinceMs,
    });
    this.#kickStatus(key);
  }

  /** A waiting status write may start: nothing of the deployment's is running, and no newer status is on its way (or it waited long enough). */
  #mayWriteStatus(key: string): boolean {
    const pending = this.#statusPending.get(key);
    if (!pending) return false;
    return !this.#statusYield?.(key) || Date.now() - pending.sinceMs >= STATUS_YIELD_MAX_MS;
  }

  #kickStatus(key: string): void {
    if (this.#statusRunning.has(key) || !this.#statusPending.has(key)) return;
    if (this.#mayWriteStatus(key)) this.#runStatusWrites(key);
    else this.#statusRetry ??= setTimeout(() => {
      this.#statusRetry = undefined;
      this.resumeStatusWrites();
    }, STATUS_RECHECK_MS).unref();
  }

  #runStatusWrites(key: string): void {
    const run = (async () => {
      while (this.#mayWriteStatus(key)) {
        const next = this.#statusPending.get(key)!.write;
        this.#statusPending.delete(key);
        try {
          await next();
        } catch (err) {
          if (err instanceof NotLeaderError) continue;
          this.#o.log.warn({ deployment: key, err }, 'could not write deployment status; reconciling again');
          this.#requeue?.(key);
        }
      }
    })().finally(() => {
      this.#statusRunning.delete(key);
      // One queued after the loop's last look and before this.
      this.#kickStatus(key);
    });
    this.#statusRunning.set(key, run);
  }

  /** Keeps the current placements and reports a plan input placement refused. */
  async #refuse(emd: EdgeModelDeployment, key: string, code: string, message: string, now: number): Promise<void> {
    const o = this.#o;
    const { namespace, name } = splitKey(key);
    const prev = emd.status;
    const status = {
      ...prev,
      observedGeneration: emd.metadata.generation,
      conditions: setCondition(prev?.conditions, { type: 'Degraded', status: 'True', reason: 'InvalidPlacementInput', message: `${code}: ${message}` }, new Date(now), emd.metadata.generation),
    };
    if (!sameStatus(prev, status)) await o.statusWriter.write({ kind: deploymentsKind, namespace, name }, () => status, emd as unknown as KubernetesObject);
    if (this.#lastFailure.get(key) !== message) {
      this.#lastFailure.set(key, message);
      o.log.error({ deployment: key, code, err: message }, 'placement refused its input; not retrying');
      await o.events.record(emd, 'Warning', 'InvalidPlacementInput', 'Place', message);
    }
  }

  /**
   * Publishes the union assignment of each node, plus the nodes a failed earlier publish of this
   * deployment left behind (a move A->B whose write to A failed must still empty A). Each
   * document is computed when its write runs, from the placements as they are then.
   */
  async #publish(key: string, nodes: Iterable<string>): Promise<void> {
    const pending = this.#unpublished.get(key) ?? new Set<string>();
    for (const n of nodes) pending.add(n);
    this.#unpublished.set(key, pending);
    // Each node's document is its own KV key, so writes to different nodes can overlap; one
    // round trip after another made a 1,000-node plan wait about 3 s for the store alone.
    try {
      await forEachLimit([...pending].sort(), PUBLISH_CONCURRENCY, async (node) => {
        await this.#o.publisher.publish(node, () => this.desiredFor(node));
        pending.delete(node);
      });
    } finally {
      if (pending.size === 0 && this.#unpublished.get(key) === pending) this.#unpublished.delete(key);
    }
  }

  /**
   * One deployment's placements on one node. Grouped by node once per placement list:
   * filtering a 1,000-replica list again for every node cost a million comparisons.
   */
  #placementsOn(key: string, node: string): Placement[] {
    const list = this.#o.index.get(key);
    let split = this.#byNode.get(list);
    if (!split) {
      const own = new Map<string, Placement[]>();
      for (const p of list) {
        const l = own.get(p.node);
        if (l) l.push(p);
        else own.set(p.node, [p]);
      }
      split = { own, depth: 0 };
      this.#byNode.set(list, split);
    }
    for (let s: NodeSplit | undefined = split; s; s = s.base) {
      const l = s.own.get(node);
      if (l) return l;
    }
    return [];
  }


  async #remove(key: string): Promise<void> {
    const o = this.#o;
    this.#publishedSpec.delete(key);
    this.#lastPlan.delete(key);
    this.#saved.delete(key);
    this.#lastFailure.delete(key);
    this.#variantFailures.delete(key);
    if (!o.index.has(key)) {
      if (this.#unpublished.has(key)) await this.#publish(key, []);
      return;
    }
    if (!o.mayWrite()) throw new NotLeaderError(`remove placements of ${key}`);
    const placements = o.index.get(key);
    const touched = o.index.delete(key);
    try {
      await this.#publish(key, touched);
    } catch (err) {
      // Kept until every node's entry is written: a retry (or the next leader, reading Redis)
      // must still know which nodes to empty.
      if (!o.index.has(key)) o.index.set(key, placements);
      throw err;
    }
    await o.placementStore.delete(key);
    this.#updatePlacementGauge();
    o.log.info({ deployment: key }, 'deployment gone; placements removed');
  }

  /** Every other deployment's placement list in the index, with its generation. */
  #otherLists(key: string): LastPlan['others'] {
    const out: LastPlan['others'] = new Map();
    for (const k of this.#o.index.keys()) {
      if (k !== key) out.set(k, { list: this.#o.index.get(k), generation: this.#o.deployments.get(k)?.metadata.generation });
    }
    return out;
  }

  /**
   * The placements-by-precision gauge counts the whole index: during a burst of re-plans it is
   * counted at most once a second, and when the queue empties (idle()).
   */
  #updatePlacementGaugeSoon(): void {
    if (this.#placementGaugeDirty && Date.now() - this.#placementGaugeAtMs >= PLACEMENT_GAUGE_EVERY_MS) this.#updatePlacementGauge();
  }

  /**
   * The per-node split of a list made from `current` by replacing the entries at `positions`
   * (a re-plan of the changed nodes, which covers all of each such node's entries): the other
   * nodes' entries are the same objects, so only the re-planned nodes are split again.
   */
  #patchByNode(current: readonly Placement[], next: readonly Placement[], positions: readonly number[]): void {
    const base = this.#byNode.get(current);
    // A long chain is split again from the list itself when next asked for.
    if (!base || this.#byNode.has(next) || base.depth >= MAX_SPLIT_DEPTH) return;
    const own = new Map<string, Placement[]>();
    for (const i of positions) {
      const p = next[i]!;
      const l = own.get(p.node);
      if (l) l.push(p);
      else own.set(p.node, [p]);
    }
    this.#byNode.set(next, { own, base, depth: base.depth + 1 });
  }

  #updatePlacementGauge(): void {
    this.#placementGaugeDirty = false;
    this.#placementGaugeAtMs = Date.now();
    const counts = this.#o.index.countByPrecision();
    for (const precision of ['fp32', 'fp16', 'int8']) this.#o.metrics.placements.set({ precision }, counts.get(precision) ?? 0);
  }

  #memoryOf = (p: Placement): number => {
    const d = this.#o.deployments.get(p.deployment);
    return d?.spec.model.variants.find((v) => v.name === p.variant)?.memoryMiB ?? 0;
  };

  /** What #memoryOf reads of a deployment: a replaced variants list may change its committed memory. */
  #variantsOf = (key: string): unknown => this.#o.deployments.get(key)?.spec.model.variants;

  /** Changes whenever #variantDigest may answer differently: a deployment created, deleted or respecified. */
  #digestVersion(): string {
    let out = '';
    for (const d of this.#o.deployments.list()) out += `${d.metadata.uid ?? d.metadata.name}@${d.metadata.generation};`;
    return out;
  }

  #variantDigest = (deploymentKey: string, variant: string): string | undefined =>
    this.#o.deployments.get(deploymentKey)?.spec.model.variants.find((v) => v.name === variant)?.sha256;
}
