// The scheduling framework, after kube-scheduler's: filter plugins say why a node cannot take a
// replica, score plugins rank the nodes that can. The planner prepares per-node facts once per
// plan (NodeInfo) and keeps the state that placing replicas changes (PlanState).
import type { EdgeModelDeploymentSpec, LinkType, ModelVariant, Objective, Precision } from '@edgeplane/api';
import type { FleetFacts } from './memo.ts';
import type { NodeView, Placement, PlacementOptions } from './types.ts';

/** One runnable (accelerator, variant) pair on a node, with its predicted cost. */
export interface Candidate {
  /** Index into the node's accelerators. */
  acc: number;
  accId: string;
  variant: ModelVariant;
  /** p99 latency in ms: measured when the node reports one, else predicted. */
  p99Ms: number;
  measured: boolean;
  meetsSlo: boolean;
  joules: number;
}

/**
 * One row of the plan's node table: what the plan knows about one node. Preparing the plan fills
 * every row (the static facts, then the pair counts and the tier of the nodes the node-level
 * filters admit), so filter and score plugins only read rows; placing or removing a replica
 * re-chooses that node's tier at once.
 */
export interface NodeInfo {
  /** Position in the plan's node list. */
  index: number;
  /** Position of the node's name in name order: the tie-break, compared as a number. */
  rank: number;
  view: NodeView;
  /** Topology domain id for spreading (the spreadBy label value, or the node itself). */
  domain: number;
  /** Precision cap from the battery, `fp32` when none. */
  cap: Precision;
  /** precisionRank(cap): which of PlanContext.eligible the node draws from. */
  capRank: 0 | 1 | 2;
  /** Digests cached on the node; undefined when none. */
  cached: ReadonlySet<string> | undefined;
  /** The link restricts this deployment to lite variants (or full ones already cached). */
  liteLink: boolean;
  /** Every node-level filter (filters.ts nodeLevelFilters) passed. */
  admitted: boolean;
  /** True once the pair scan filled the counts below; nodes a node-level filter refuses skip it. */
  built: boolean;
  /** Pairs whose precision the accelerator supports, within the cap and minAccuracy. */
  supportedPairs: number;
  /** Of those, pairs the link profile rule allows. */
  linkPairs: number;
  /** Of those, pairs whose artifact arrives in time. */
  fetchablePairs: number;
  /** Variant names that recently failed on this node (see failure-backoff.ts); undefined when none. */
  excluded: ReadonlySet<string> | undefined;
  /** Of the fetchable pairs, those not backing off after a failure. */
  retryablePairs: number;
  /** The node's pair class, or null when its pairs are scanned one by one. */
  pairClass: PairClass | null;
  /** Where this node's accelerators start in PlanContext.usedMiB and the fleet facts. */
  accBase: number;
  /** Replicas of this deployment placed on the node in this plan. */
  count: number;
  /**
   * The pair the node would run for one more replica, as scalars so that scanning thousands
   * of nodes allocates nothing: accelerator index (-1 when nothing fits) and variant index
   * into the node's VariantTable, with the pair's SLO verdict (its p99 and joules are in
   * PlanContext.tierP99Ms and tierJoules).
   */
  tierAcc: number;
  tierVariant: number;
  tierMeasured: boolean;
  tierMeetsSlo: boolean;
  /** The current variant and accelerator held against slower pairs (upgradeHoldMs); '' for none. */
  holdVariant: string;
  holdAcc: string;
}

export interface Weights {
  headroom: number;
  accuracy: number;
  load: number;
  energy: number;
  spread: number;
}

/** Variants a pair class can tell apart: one bit each in its fetch mask (the API allows 16). */
export const MAX_CLASS_VARIANTS = 16;

/**
 * Nodes whose pairs pass the same pair rules with the same cost: equal hardware signature
 * (FleetFacts.signature), battery cap, link class, and the same variants admitted by the link
 * and fetch rules, with no failures, hold or measurements of their own. The plan ranks a class's
 * pairs once; each member's tier is then the best-ranked pair its own free memory fits.
 */
export interface PairClass {
  /** The link and fetch verdicts of its members, one bit per variant (see candidates.ts). */
  mask: number;
  /** The first class of a group keeps the group's other classes by mask. */
  others: Map<number, PairClass> | undefined;
  supportedPairs: number;
  linkPairs: number;
  fetchablePairs: number;
  retryablePairs: number;
  /**
   * Whether the static pair filters pass its members, which they judge by the pair counts alone:
   * -1 until the first member is judged.
   */
  staticOk: -1 | 0 | 1;
  /**
   * The pairs every pair rule admits, best first: accelerator index, variant index, p99, joules,
   * SLO verdict. Plain arrays: a plan builds dozens of classes of a few pairs each, and small
   * typed arrays cost more to allocate than they save.
   */
  acc: number[];
  variant: number[];
  p99Ms: number[];
  joules: number[];
  meetsSlo: boolean[];
}

/** A list of variants with the fields the pair scan reads laid out in arrays. */
export interface VariantTable {
  variants: readonly ModelVariant[];
  rank: Int8Array;
  sizeBits: Float64Array;
  memoryMiB: Float64Array;
  accuracy: Float64Array;
  gflops: Float64Array;
  lite: Uint8Array;
}

/** Facts shared by every node of one plan, derived from the spec and options. */
export interface PlanContext {
  key: string;
  spec: EdgeModelDeploymentSpec;
  options: PlacementOptions;
  objective: Objective;
  sloMs: number;
  minAccuracy: number;
  maxPerNode: number;
  liteOn: readonly LinkType[];
  hasLite: boolean;
  weights: Weights;
  /** Variants allowed under each cap (index = cap rank), already limited to slo.minAccuracy. */
  eligible: readonly [VariantTable, VariantTable, VariantTable];
  /** MiB committed by other deployments, `${node}/${acceleratorId}`. */
  committedMiB: ReadonlyMap<string, number>;
  /** Workloads of other deployments per node (PlanInput.otherWorkloads); empty when absent. */
  otherWorkloads: ReadonlyMap<string, number>;
  /** 1 for each node other deployments filled (see workload-cap.ts); undefined when none is. */
  workloadFull: Uint8Array | undefined;
  nodes: NodeInfo[];
  /** Replicas of this plan per topology domain. */
  domainCount: Int32Array;
  /** Topology domain of each node (NodeInfo.domain) as a column. */
  domainOf: Int32Array;
  /** 1 where the node passes every static filter (judged when the plan is prepared). */
  staticOk: Uint8Array;
  /** Where staticOk: the node's local score when prepared (see localScore in choose.ts), NaN if it took nothing. */
  localScore: Float64Array;
  /** 1 once a replica was placed on or removed from the node: localScore no longer holds. */
  dirty: Uint8Array;
  /** Accelerator facts of the node list, shared by every plan over it. */
  fleet: FleetFacts;
  /** Reused to score a node's tier without allocating; never kept by a plugin. */
  scratch: Candidate;
  /**
   * The first pair class of each group of hardware signature, cap and link class (keyed
   * (signature * 3 + capRank) * 2 + liteLink: a plan meets few of the groups), holding the
   * group's others by link and fetch verdicts (see candidates.ts); undefined when every node's
   * pairs are scanned one by one.
   */
  pairClasses: Map<number, PairClass> | undefined;
  /**
   * The tier's p99 and joules per node (the rest of the tier is in NodeInfo): numbers kept in
   * objects are boxed, and every plan writes them for thousands of nodes.
   */
  tierP99Ms: Float64Array;
  tierJoules: Float64Array;
  /** Weight of each node score plugin under this objective, in nodeScorePlugins order. */
  nodeWeights: Float64Array;
  /** MiB in use per accelerator of every node (other deployments plus this plan), at NodeInfo.accBase. */
  usedMiB: Float64Array;
  /** 1 where usedMiB already holds what other deployments committed (read on first use). */
  committedLoaded: Uint8Array;
  /**
   * 1 once the node's row past its view was filled (evaluateRow in prepare.ts): every row when
   * the plan was prepared eagerly, else each row when the chooser or the plan first needs it.
   */
  evaluated: Uint8Array;
  /** The rows evaluated so far, in order (the first evaluatedCount), so the chooser starts from them without a pass over every node. */
  evaluatedRows: Int32Array;
  evaluatedCount: number;
  /** The per-plan inputs evaluating a row reads. */
  rows: RowInputs;
  /** 1 for each node the spec's label selector matches; undefined without a selector. */
  selectorMatch: Uint8Array | undefined;
}

/** Per-plan inputs of evaluateRow (prepare.ts), by node position. */
export interface RowInputs {
  /** Topology domain of each node under spreadBy; undefined when each node is its own. */
  domains: Int32Array | undefined;
  /** Caps this deployment's placements were made under, where it has some. */
  prevCapAt: Map<number, Precision> | undefined;
  /** Placements within upgradeHoldMs of their variant change. */
  heldAt: Map<number, Placement> | undefined;
  excludedAt: Map<number, ReadonlySet<string>> | undefined;
  /** 1 at each LINK_TYPES position the deployment restricts to lite variants. */
  liteCodes: Uint8Array;
}

export const StatusCode = { Success: 'Success', Unschedulable: 'Unschedulable' } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** A filter's verdict; an unschedulable status carries the reason counted in the message. */
export interface Status {
  readonly code: StatusCode;
  readonly reason?: string;
}

export const SUCCESS: Status = Object.freeze({ code: StatusCode.Success });

export function unschedulable(reason: string): Status {
  return { code: StatusCode.Unschedulable, reason };
}

/**
 * A filter: a pure predicate over one row of the node table, and the reason a refused node gives
 * in the unplaced message.
 */
export interface FilterPlugin {
  readonly name: string;
  /** False when the verdict cannot change while the plan places replicas. */
  readonly dynamic: boolean;
  passes(ctx: PlanContext, node: NodeInfo): boolean;
  reason(ctx: PlanContext, node: NodeInfo): string;
}

/**
 * A filter that judges a node by its own columns of the node table, before any pair: its
 * verdict needs only the row's position, so the score bound (bound.ts) asks it for every node
 * without reading the node's NodeInfo. `passes(ctx, node)` is `passesAt(ctx, node.index)`.
 */
export interface NodeFilterPlugin extends FilterPlugin {
  passesAt(ctx: PlanContext, i: number): boolean;
}

/**
 * A filter whose rule applies to each (accelerator, variant) pair of a node: the pair scan
 * (candidates.ts) applies the pair rules in order and counts the pairs each lets through, and
 * the node passes while some pair does.
 */
export interface PairFilterPlugin extends FilterPlugin {
  // passes() reads the node's pair counts and nothing else, so nodes of one pair class share it.
  /** Pure: true when the pair of accelerator slot `slot` and variant `v` of node.table passes. */
  admits(ctx: PlanContext, node: NodeInfo, slot: number, v: number): boolean;
}

export interface ScorePlugin {
  readonly name: string;
  readonly weight: (w: Weights) => number;
  /** 0..100 for a node that passed every filter and has a tier. */
  score(ctx: PlanContext, node: NodeInfo, tier: Candidate): number;
}
