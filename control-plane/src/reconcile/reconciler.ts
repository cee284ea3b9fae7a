// Reconciles one EdgeModelDeployment by key: reads it from the informer cache, plans its
// placements against the fleet as it is now, persists them, publishes the assignment of
// every node they touch, and writes status and Events. Level-based: it never looks at the
// event that queued it, so a missed event costs nothing.
import { MAX_WORKLOADS_PER_NODE, type EdgeModelDeployment, type EdgeNode, type VariantFailure } from '@edgeplane/api';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NotLeaderError } from '../errors.ts';
import type { AssignmentPublisher } from '../fleet/assignment-publisher.ts';
import { nodeWorkloads, type PlacedDeployment } from '../fleet/assignment.ts';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import { deploymentsKind, splitKey } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { Metrics } from '../metrics.ts';
import { isPlacementInputError, planDeployment } from '../placement/index.ts';
import type { Placement, PlacementOptions, PlanResult } from '../placement/types.ts';
import { nodeView } from './node-views.ts';
import type { PlacementIndex } from './placement-index.ts';
import type { PlacementStore } from './placement-store.ts';
import type { ReconcileResult } from './queue.ts';
import { deploymentStatus, placementStatus, sameStatus } from './status.ts';
import { setCondition } from '../fleet/node-status.ts';
import { forEachLimit } from './limit.ts';
import { DEFAULT_FAILURE_BACKOFF, describeFailure, trackFailures, type FailureBackoff } from './failures.ts';
import type { NodeLifecycle } from './node-lifecycle.ts';

export interface ReconcilerOptions {
  deployments: ResourceInformer<EdgeModelDeployment>;
  nodes: ResourceInformer<EdgeNode>;
  telemetry: TelemetryStore;
  placementStore: PlacementStore;
  index: PlacementIndex;
  publisher: AssignmentPublisher;
  statusWriter: StatusWriter;
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
  heartbeatIntervalMs: number;
  mayWrite: () => boolean;
  /** The node monitor's decision per node (Ready, evicted); undefined before it has one. */
  lifecycle?: (node: string) => NodeLifecycle | undefined;
  placementOptions?: Partial<PlacementOptions>;
  /** How long a (node, variant) pair that failed is avoided; doubles per failure in a row. */
  failureBackoff?: FailureBackoff;
}

const placementId = (p: Placement) => `${p.node}|${p.accelerator}|${p.variant}|${p.precision}|${p.profile}|${p.cap}`;

export function samePlacements(a: readonly Placement[], b: readonly Placement[]): boolean {
  if (a.length !== b.length) return false;
  const x = a.map(placementId).sort();
  const y = b.map(placementId).sort();
  return x.every((v, i) => v === y[i]);
}

/** "moved 1, re-tiered 2, added 0, removed 0", comparing placements node by node. */
export function describeChange(before: readonly Placement[], after: readonly Placement[]): string {
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
  return `placed ${after.length} replicas (${added} new, ${removed} removed, ${retiered} re-tiered)${sample ? `: ${sample}` : ''}${after.length > 5 ? '; ...' : ''}`;
}

/** A re-plan after a node went past its workload limit, ms. */
const OVERFULL_REQUEUE_MS = 1000;

/** Assignment writes in flight at once per reconcile. */
const PUBLISH_CONCURRENCY = 32;

export class DeploymentReconciler {
  readonly #o: ReconcilerOptions;
  /** Last failure message per deployment, so an unchanged failure is not re-announced. */
  readonly #lastFailure = new Map<string, string>();
  /** Variant failures per deployment as last computed; status holds the same for a new leader. */
  readonly #variantFailures = new Map<string, VariantFailure[]>();

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  reconcile = async (key: string): Promise<ReconcileResult> => {
    const o = this.#o;
    if (!o.mayWrite()) throw new NotLeaderError(`reconcile ${key}`);
    const emd = o.deployments.get(key);
    if (!emd || emd.metadata.deletionTimestamp) {
      await this.#remove(key);
      return {};
    }
    const spec = emd.spec;
    const nodes = o.nodes.list();
    const telemetry = await o.telemetry.readMany(nodes.map((n) => n.metadata.name ?? ''));
    const now = Date.now();
    const views = nodes.map((n) => nodeView(n, telemetry.get(n.metadata.name ?? ''), now, o.lifecycle?.(n.metadata.name ?? ''), this.#variantDigest));
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
    let plan: PlanResult;
    try {
      plan = planDeployment({
        key,
        spec,
        nodes: views,
        current,
        committedMiB: o.index.committedMiB(key, this.#memoryOf),
        otherWorkloads: o.index.otherWorkloads(key),
        nowMs: now,
        ...(failures.excluded.size > 0 ? { excludedVariants: failures.excluded } : {}),
        ...(o.placementOptions ? { options: o.placementOptions } : {}),
      });
    } catch (err) {
      if (!isPlacementInputError(err)) throw err;
      // Terminal: retrying cannot help until the input changes, so say so and stop.
      await this.#refuse(emd, key, err.code, err.message, now);
      return {};
    }

    const changed = !samePlacements(current, plan.placements);
    if (changed) {
      if (!o.mayWrite()) throw new NotLeaderError(`store placements of ${key}`);
      await o.placementStore.save(key, plan.placements);
    }
    const touched = o.index.set(key, plan.placements);
    // Also the nodes that keep their placement: the spec (variant uri, SLO) may have changed.
    await this.#publish(touched);
    this.#updatePlacementGauge();
    // Two plans raced past a node's workload limit: plan again, and the node's filter refuses one.
    const overfull = [...touched].some((n) => o.index.workloadsOn(n) > MAX_WORKLOADS_PER_NODE);

    // A node whose workload reports Redis lost (no record yet) keeps its last reported phase:
    // unknown is not Pending.
    const statuses = plan.placements.map((p) => {
      const reports = telemetry.get(p.node)?.workloads;
      const last = reports === undefined ? emd.status?.placements?.find((s) => s.node === p.node && s.variant === p.variant && s.accelerator === p.accelerator) : undefined;
      return last ?? placementStatus(p, reports);
    });
    const status = deploymentStatus({
      generation: emd.metadata.generation,
      replicas: spec.replicas,
      placements: statuses,
      unplaced: plan.unplaced,
      planMessage: plan.message,
      failures: failures.failures,
      prev: emd.status,
      now: new Date(now),
    });
    if (!sameStatus(emd.status, status)) {
      const { namespace, name } = splitKey(key);
      await o.statusWriter.write({ kind: deploymentsKind, namespace, name }, () => status, emd as unknown as KubernetesObject);
    }

    for (const f of failures.fresh) {
      o.log.warn({ deployment: key, node: f.node, variant: f.variant, reason: f.reason, failures: f.count, retryAfter: f.retryAfter }, 'variant failed on node; placing another variant or node meanwhile');
      await o.events.record(emd, 'Warning', 'VariantFailed', 'Load', describeFailure(f, now));
    }
    if (changed) {
      o.log.info({ deployment: key, replicas: plan.placements.length, unplaced: plan.unplaced, tiers: status.tiers }, 'placements changed');
      await o.events.record(emd, 'Normal', 'Placed', 'Place', describeChange(current, plan.placements));
    }
    if (plan.unplaced > 0) {
      const message = `${plan.unplaced} of ${spec.replicas} replicas unplaced: ${plan.message ?? 'no node fits'}`;
      if (this.#lastFailure.get(key) !== message) {
        this.#lastFailure.set(key, message);
        o.log.warn({ deployment: key, unplaced: plan.unplaced, reason: plan.message }, 'replicas could not be placed');
        await o.events.record(emd, 'Warning', 'FailedPlacement', 'Place', message);
      }
    } else {
      this.#lastFailure.delete(key);
    }
    // Back when the first backoff ends, so the pair is tried again without waiting for a resync.
    const requeue = [overfull ? OVERFULL_REQUEUE_MS : undefined, failures.nextRetryMs].filter((v): v is number => v !== undefined);
    return requeue.length > 0 ? { requeueAfterMs: Math.min(...requeue) } : {};
  };

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

  /** Publishes the union assignment of each node. */
  async #publish(nodes: Iterable<string>): Promise<void> {
    const o = this.#o;
    // Each node's document is its own KV key, so writes to different nodes can overlap; one
    // round trip after another made a 1,000-node plan wait about 3 s for the store alone.
    // Each deployment's placements grouped by node once per pass: filtering all of them again
    // for every node made a 1,000-replica deployment cost a million comparisons.
    const grouped = new Map<string, Map<string, Placement[]>>();
    const placementsOn = (key: string, node: string): Placement[] => {
      let byNode = grouped.get(key);
      if (!byNode) {
        byNode = new Map();
        for (const p of o.index.get(key)) {
          const list = byNode.get(p.node);
          if (list) list.push(p);
          else byNode.set(p.node, [p]);
        }
        grouped.set(key, byNode);
      }
      return byNode.get(node) ?? [];
    };
    await forEachLimit([...nodes].sort(), PUBLISH_CONCURRENCY, async (node) => {
      const placed: PlacedDeployment[] = [];
      for (const key of o.index.keysOnNode(node)) {
        const d = o.deployments.get(key);
        if (d) placed.push({ key, spec: d.spec, placements: placementsOn(key, node) });
      }
      await o.publisher.publish(node, nodeWorkloads(node, placed));
    });
  }

  async #remove(key: string): Promise<void> {
    const o = this.#o;
    this.#lastFailure.delete(key);
    this.#variantFailures.delete(key);
    if (!o.index.has(key)) return;
    if (!o.mayWrite()) throw new NotLeaderError(`remove placements of ${key}`);
    await o.placementStore.delete(key);
    const touched = o.index.delete(key);
    await this.#publish(touched);
    this.#updatePlacementGauge();
    o.log.info({ deployment: key }, 'deployment gone; placements removed');
  }

  #updatePlacementGauge(): void {
    const counts = this.#o.index.countByPrecision();
    for (const precision of ['fp32', 'fp16', 'int8']) this.#o.metrics.placements.set({ precision }, counts.get(precision) ?? 0);
  }

  #memoryOf = (p: Placement): number => {
    const d = this.#o.deployments.get(p.deployment);
    return d?.spec.model.variants.find((v) => v.name === p.variant)?.memoryMiB ?? 0;
  };

  #variantDigest = (deploymentKey: string, variant: string): string | undefined =>
    this.#o.deployments.get(deploymentKey)?.spec.model.variants.find((v) => v.name === variant)?.sha256;
}
