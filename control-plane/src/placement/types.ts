// Contract of the placement engine: a pure function from what the control plane knows to
// where each replica of one deployment runs. No I/O; the reconciler gathers the inputs.
import type { Accelerator, EdgeModelDeploymentSpec, Network, Power, Precision, Profile } from '@edgeplane/api';

/**
 * A node as placement sees it: resource status plus live telemetry from Redis. A snapshot:
 * planDeployment remembers facts derived from a node list, from each `accelerators` array, each
 * `labels` object, each `measuredP99Ms` map and each `utilization` map by object identity, so replace those when they change instead of
 * editing them in place. A plan reads every view of the list to notice a replaced field, except
 * a frozen plain object (`Object.freeze` of an object literal with the fields as data): its fields
 * cannot change, so the same object at the same position is taken as unchanged without reading it.
 */
export interface NodeView {
  name: string;
  labels: Readonly<Record<string, string>>;
  unschedulable: boolean;
  /** Ready and Reachable: the agent said hello and heartbeats arrive. */
  ready: boolean;
  /**
   * NotReady, but its current replicas stay (within the eviction delay, or in a full
   * disruption): the node takes no new replica, and keeps the ones it has.
   */
  retainReplicas?: boolean | undefined;
  accelerators: readonly Accelerator[];
  power?: Power | undefined;
  network?: Network | undefined;
  /** sha256 digests the agent has in its cache. */
  cachedArtifacts: ReadonlySet<string>;
  /** Measured p99 ms by `${variantSha256}@${acceleratorId}`, from heartbeats. */
  measuredP99Ms: ReadonlyMap<string, number>;
  /** Busy fraction 0..1 per accelerator id, from heartbeats. */
  utilization: ReadonlyMap<string, number>;
}

/** One replica's placement, as stored between reconciles. */
export interface Placement {
  /** `<namespace>/<name>` of the deployment. */
  deployment: string;
  node: string;
  accelerator: string;
  variant: string;
  precision: Precision;
  profile: Profile;
  /** Precision cap in force on the node when placed, so hysteresis can hold it. */
  cap: Precision;
  /** Predicted (or measured, when known) p99 latency in ms. */
  predictedP99Ms: number;
  /** Why this tier, in a sentence: "battery 18% below 20%: capped at int8". */
  tierReason: string;
  /** When this node took this variant, ms since the epoch (PlanInput.nowMs); absent in plans without a clock. */
  sinceMs?: number;
}

export interface PlacementOptions {
  /** Fraction of peak TOPS a real model reaches; turns gflops/TOPS into latency. */
  efficiency: number;
  /** A variant must download within this long over the node's measured bandwidth, seconds. */
  fetchDeadlineSec: number;
  /** A current placement is kept unless the best alternative scores this much higher (0..100). */
  keepThreshold: number;
  /**
   * After a node changes variant, a move to a slower variant waits this long, ms. A faster
   * one (the SLO is missed, a cap tightened) happens at once: as the HPA scales up at once and
   * down after a stabilisation window, a noisy p99 cannot swing a tier back and forth.
   */
  upgradeHoldMs: number;
}

export const defaultPlacementOptions: PlacementOptions = {
  efficiency: 0.3,
  fetchDeadlineSec: 300,
  keepThreshold: 10,
  upgradeHoldMs: 30_000,
};

export interface PlanInput {
  /** `<namespace>/<name>`. */
  key: string;
  spec: EdgeModelDeploymentSpec;
  nodes: readonly NodeView[];
  /** This deployment's placements from the previous reconcile. */
  current: readonly Placement[];
  /** MiB already committed per node and accelerator by other deployments: `${node}/${acceleratorId}`. */
  committedMiB: ReadonlyMap<string, number>;
  /**
   * Workloads other deployments have on each node (each deployment counts once per node);
   * absent: none. A node whose assignment is full takes no new deployment.
   */
  otherWorkloads?: ReadonlyMap<string, number>;
  options?: Partial<PlacementOptions>;
  /** The plan's clock, ms since the epoch; without it no placement is held (pure tests). */
  nowMs?: number;
  /**
   * Variant names per node that failed there recently (fetch, digest, signature, load,
   * memory) and are backing off: placement uses another variant or node meanwhile.
   */
  excludedVariants?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface PlanResult {
  placements: Placement[];
  /** Replicas that found no node. */
  unplaced: number;
  /** kube-scheduler style: "0/40 nodes are available: 25 no int8 support, 10 insufficient memory, 5 not Ready." */
  message?: string;
}
