// What the leader runs, started and stopped with the Lease: the work queue and its
// reconciler, the hello responder, the node monitor and the periodic resync. Placements
// are reloaded from Redis at the start of every term.
import type { EdgeModelDeployment, EdgeNode } from '@edgeplane/api';
import type { Logger } from 'pino';
import type { AssignmentPublisher } from '../fleet/assignment-publisher.ts';
import type { DeliveryCheck } from '../fleet/delivery-check.ts';
import type { PlacementRebuilder } from './placement-rebuild.ts';
import type { HelloResponder } from '../fleet/hello.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import type { Metrics } from '../metrics.ts';
import type { DeploymentReconciler } from './reconciler.ts';
import type { NodeMonitor } from './node-monitor.ts';
import type { PlacementIndex } from './placement-index.ts';
import type { PlacementStore } from './placement-store.ts';
import { WorkQueue } from './queue.ts';
import { EscalationIndex } from './escalation-index.ts';

export interface ControllerOptions {
  deployments: ResourceInformer<EdgeModelDeployment>;
  nodes: ResourceInformer<EdgeNode>;
  reconciler: DeploymentReconciler;
  monitor: NodeMonitor;
  hello: HelloResponder;
  index: PlacementIndex;
  placementStore: PlacementStore;
  publisher: AssignmentPublisher;
  metrics: Metrics;
  log: Logger;
  workers: number;
  resyncMs: number;
  /** Re-publishes entries that heartbeating agents disagree with; absent: off. */
  delivery?: DeliveryCheck;
  /** Restores placements Redis lost from KV and status at the start of a term; absent: off. */
  rebuilder?: PlacementRebuilder;
}

/** The fields of an EdgeNode that placement reads outside its live telemetry. */
function nodeSignature(n: EdgeNode): string {
  return JSON.stringify([n.metadata.labels ?? {}, n.spec.unschedulable, n.status?.accelerators ?? []]);
}

/** How long after the last reconcile EdgeNode status writes still wait for the next one, ms. */
const STATUS_QUIET_MS = 250;
/** The same for a deployment's status (one write of the whole deployment): shorter, as converging waits for it. */
const DEPLOYMENT_STATUS_QUIET_MS = 100;

export class Controller {
  readonly #o: ControllerOptions;
  #queue: WorkQueue | undefined;
  #started = false;
  #resync: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | null = null;
  readonly #generations = new Map<string, number | undefined>();
  readonly #nodeSignatures = new Map<string, string>();
  /** Tier -> deployments escalating to it; a tier becoming (un)available requeues them. */
  readonly #escalations = new EscalationIndex();

  constructor(options: ControllerOptions) {
    this.#o = options;
    options.deployments.on((type, key, obj) => {
      // Before the generation check: a tier's availability lives in its status.
      for (const dependent of this.#escalations.observe(type, key, obj)) this.enqueue(dependent);
      // Our own status writes come back as updates; only a new generation needs a re-plan.
      const gen = obj.metadata.generation;
      if (type === 'update' && this.#generations.get(key) === gen && !obj.metadata.deletionTimestamp) return;
      if (type === 'delete') this.#generations.delete(key);
      else this.#generations.set(key, gen);
      this.enqueue(key);
    });
    options.nodes.on((type, key, obj) => {
      const sig = type === 'delete' ? '' : nodeSignature(obj);
      if (this.#nodeSignatures.get(key) === sig) return;
      if (type === 'delete') this.#nodeSignatures.delete(key);
      else this.#nodeSignatures.set(key, sig);
      this.enqueueAll();
    });
  }

  /** True once leading has fully started: the queue runs and hello is answered. */
  get leading(): boolean {
    return this.#started;
  }

  enqueue(key: string): void {
    this.#queue?.add(key);
  }

  enqueueAll(): void {
    if (!this.#queue) return;
    for (const key of new Set([...this.#o.deployments.keys(), ...this.#o.index.keys()])) this.#queue.add(key);
  }

  /** A node's telemetry or hello changed: the monitor decides what to re-plan. */
  nodeChanged(node: string): void {
    if (this.#queue) this.#o.monitor.nodeChanged(node);
  }

  async startLeading(): Promise<void> {
    const o = this.#o;
    o.metrics.leader.set(1);
    o.publisher.reset();
    o.reconciler.startTerm();
    o.index.clear();
    for (const [key, placements] of await o.placementStore.loadAll()) o.index.set(key, placements);
    // Redis is a cache: planning from nothing would move replicas that are serving.
    await o.rebuilder?.restore();
    const queue = new WorkQueue({
      workers: o.workers,
      onDepth: (d) => o.metrics.queueDepth.set(d),
      metrics: o.metrics.workQueue,
      // Status writes yield to re-plans; they go once the queue is empty (or waited long enough).
      onIdle: () => {
        o.monitor.resumeStatusWrites();
        o.reconciler.idle();
      },
      onResult: (key, outcome, ms, err) => {
        lastReconciledMs = performance.now();
        o.monitor.resumeStatusWrites();
        o.metrics.reconcileTotal.inc({ outcome });
        o.metrics.reconcileDuration.observe({ outcome }, ms / 1000);
        // Inside the reconcile's scope: both lines carry its reconcileID.
        if (err) o.log.warn({ deployment: key, err, failures: queue.failures(key) }, 'reconcile failed; will retry');
        else o.log.debug({ deployment: key, outcome, durationMs: Math.round(ms * 10) / 10 }, 'reconciled');
      },
    });
    this.#queue = queue;
    o.metrics.setUnfinished(() => queue.unfinished());
    o.reconciler.setRequeue((key) => queue.addRateLimited(key));
    // A burst of crossings leaves the queue empty for a moment between its re-plans: EdgeNode
    // status writes wait for a quiet spell, not just an empty queue.
    let lastReconciledMs = -Infinity;
    o.reconciler.setStatusYield((key) => queue.pending(key) || performance.now() - lastReconciledMs < DEPLOYMENT_STATUS_QUIET_MS);
    o.monitor.setStatusYield(() => queue.busy || performance.now() - lastReconciledMs < STATUS_QUIET_MS);
    queue.start(o.reconciler.reconcile);
    // Lifecycle decisions exist before the first reconcile reads them.
    await o.monitor.start();
    o.hello.start();
    o.delivery?.start();
    this.enqueueAll();
    this.#resync = setInterval(() => {
      this.enqueueAll();
      this.syncAssignments();
    }, o.resyncMs);
    this.#resync.unref();
    this.#started = true;
    o.log.info({ deployments: o.deployments.keys().length, placementsLoaded: o.index.keys().length }, 'leading: reconciling');
  }

  /**
   * Level-based repair of the KV entries against the placements, once per resync (one pass at
   * a time); resolves when that pass is done.
   */
  syncAssignments(): Promise<void> {
    if (!this.#queue) return Promise.resolve();
    const syncs = this.#o.metrics.assignmentSyncs;
    this.#syncing ??= this.#o.reconciler
      .syncAssignments()
      .then(
        (r) => syncs.inc({ outcome: r === null ? 'skipped' : r.repaired.length > 0 ? 'repaired' : 'clean' }),
        (err: unknown) => {
          syncs.inc({ outcome: 'error' });
          this.#o.log.warn({ err }, 'assignment sync failed; the next resync tries again');
        },
      )
      .finally(() => (this.#syncing = null));
    return this.#syncing;
  }

  async stopLeading(): Promise<void> {
    const o = this.#o;
    clearInterval(this.#resync);
    this.#started = false;
    const queue = this.#queue;
    this.#queue = undefined;
    await o.delivery?.stop();
    await this.#syncing;
    await o.hello.stop();
    await o.monitor.stop();
    await queue?.shutdown();
    o.reconciler.setRequeue(undefined);
    o.reconciler.setStatusYield(undefined);
    o.monitor.setStatusYield(undefined);
    await o.reconciler.drainStatusWrites();
    o.index.clear();
    o.publisher.reset();
    o.metrics.leader.set(0);
    o.metrics.queueDepth.set(0);
    o.metrics.setUnfinished(undefined);
    o.log.info('stopped leading');
  }
}
