// Per-plan facts derived once from the input: options, the variants each cap allows, and a
// NodeInfo per node with its battery cap and topology domain.
import { PRECISIONS } from '@edgeplane/api';
import type { ModelVariant, Precision } from '@edgeplane/api';
import { allowedUnder, capFor, precisionRank } from './battery.ts';
import { PlacementErrorCode, PlacementInputError } from './errors.ts';
import { buildPairs } from './candidates.ts';
import { nodeLevelFilters, nodeReady } from './filters.ts';
import type { NodeInfo, PlanContext, VariantTable } from './framework.ts';
import { fleetFacts, refreshUtilization } from './memo.ts';
import { isLiteLink } from './link.ts';
import { nodeScorePlugins, WEIGHTS } from './score.ts';
import { defaultPlacementOptions } from './types.ts';
import type { Placement, PlacementOptions, PlanInput } from './types.ts';

const NO_WORKLOADS: ReadonlyMap<string, number> = new Map();

export function resolveOptions(partial: Partial<PlacementOptions> | undefined): PlacementOptions {
  const options = { ...defaultPlacementOptions, ...partial };
  const bad = (field: string, rule: string) =>
    new PlacementInputError(PlacementErrorCode.InvalidOptions, `placement option ${field} ${rule}`);
  if (!(options.efficiency > 0 && options.efficiency <= 1)) throw bad('efficiency', `must be in (0, 1], got ${options.efficiency}`);
  if (!(options.fetchDeadlineSec >= 0)) throw bad('fetchDeadlineSec', `must be >= 0 seconds, got ${options.fetchDeadlineSec}`);
  if (!(options.keepThreshold >= 0 && options.keepThreshold <= 100)) {
    throw bad('keepThreshold', `must be in [0, 100], got ${options.keepThreshold}`);
  }
  return options;
}

function variantTable(variants: ModelVariant[]): VariantTable {
  return {
    variants,
    rank: Int8Array.from(variants, (v) => precisionRank(v.precision)),
    sizeBits: Float64Array.from(variants, (v) => v.sizeBytes * 8),
    memoryMiB: Float64Array.from(variants, (v) => v.memoryMiB),
    accuracy: Float64Array.from(variants, (v) => v.accuracy),
    gflops: Float64Array.from(variants, (v) => v.gflops),
    lite: Uint8Array.from(variants, (v) => (v.profile === 'lite' ? 1 : 0)),
  };
}

/** The cap each node had when this deployment was last placed there; the strictest wins. */
function previousCaps(input: PlanInput): Map<string, Precision> {
  const caps = new Map<string, Precision>();
  for (const p of input.current) {
    if (p.deployment !== input.key) continue;
    const prev = caps.get(p.node);
    if (prev === undefined || precisionRank(p.cap) > precisionRank(prev)) caps.set(p.node, p.cap);
  }
  return caps;
}

/** Current placements that changed variant less than upgradeHoldMs ago, by node. */
function heldPlacements(input: PlanInput, holdMs: number): Map<string, Placement> {
  const held = new Map<string, Placement>();
  if (input.nowMs === undefined || holdMs <= 0) return held;
  for (const p of input.current) {
    if (p.deployment === input.key && p.sinceMs !== undefined && input.nowMs - p.sinceMs < holdMs) held.set(p.node, p);
  }
  return held;
}

/** True when every node-level filter passes, NodeReady excepted for a node keeping its replicas. */
function admittedAlone(ctx: PlanContext, node: NodeInfo): boolean {
  for (const plugin of nodeLevelFilters) {
    if (plugin.passes(ctx, node)) continue;
    if (plugin === nodeReady && node.view.retainReplicas) continue;
    return false;
  }
  return true;
}

export function preparePlan(input: PlanInput): PlanContext {
  const options = resolveOptions(input.options);
  const spec = input.spec;
  const minAccuracy = spec.slo.minAccuracy;
  const accurate = spec.model.variants.filter((v) => v.accuracy >= minAccuracy);
  const under = (cap: Precision): VariantTable => variantTable(accurate.filter((v) => allowedUnder(v.precision, cap)));
  const eligible = [under(PRECISIONS[0]), under(PRECISIONS[1]), under(PRECISIONS[2])] as const;
  const liteOn = spec.tiering.network.liteOn;
  // Forcing lite needs a lite variant that is accurate enough; without one the rule cannot apply.
  const hasLite = accurate.some((v) => v.profile === 'lite');
  const thresholds = spec.tiering.battery;
  const prevCaps = previousCaps(input);
  const held = heldPlacements(input, options.upgradeHoldMs);
  const spreadBy = spec.placement.spreadBy;
  const domainIds = new Map<string, number>();
  // Also refuses duplicate names before anything is placed.
  const fleet = fleetFacts(input.nodes);
  // Plans run one at a time and no result refers to a NodeInfo, so the node list's facts own
  // one per node and each plan resets them: no garbage per node per plan.
  const nodes = fleet.infos;
  const excludedVariants = input.excludedVariants;
  for (let i = 0; i < input.nodes.length; i++) {
    const view = input.nodes[i]!;
    let domain = i;
    if (spreadBy !== undefined) {
      // Nodes without the label share one domain, keyed by a value no label can take.
      const value = Object.hasOwn(view.labels, spreadBy) ? view.labels[spreadBy]! : '\u0000';
      const known = domainIds.get(value);
      domain = known ?? domainIds.size;
      if (known === undefined) domainIds.set(value, domain);
    }
    const info = nodes[i]!;
    info.view = view;
    info.domain = domain;
    info.cap = capFor(view.power, thresholds, prevCaps.size > 0 ? prevCaps.get(view.name) : undefined);
    info.capRank = precisionRank(info.cap);
    info.liteLink = hasLite && isLiteLink(liteOn, view.network);
    info.cached = view.cachedArtifacts.size > 0 ? view.cachedArtifacts : undefined;
    const bw = view.network?.bandwidthMbps;
    info.bwMbps = bw;
    info.bwBits = bw === undefined ? 0 : bw * 1e6;
    info.built = false;
    info.supportedPairs = 0;
    info.linkPairs = 0;
    info.fetchablePairs = 0;
    const excluded = excludedVariants?.get(view.name);
    info.excluded = excluded !== undefined && excluded.size > 0 ? excluded : undefined;
    info.retryablePairs = 0;
    info.count = 0;
    info.tierAcc = -1;
    info.tierVariant = -1;
    if (fleet.utilization[i] !== view.utilization) refreshUtilization(fleet, i, view);
    // Held only while the node's cap and link class are what they were: the hold damps noise
    // in measurements, not a battery that recovered or a node back on Wi-Fi.
    const hold = held.size > 0 ? held.get(view.name) : undefined;
    const sameClass = hold !== undefined && hold.cap === info.cap && (hold.profile !== 'lite' || info.liteLink);
    info.holdVariant = sameClass ? hold.variant : '';
    info.holdAcc = sameClass ? hold.accelerator : '';
  }

  const ctx: PlanContext = {
    key: input.key,
    spec,
    options,
    objective: spec.tiering.objective,
    sloMs: spec.slo.latencyMs,
    minAccuracy,
    maxPerNode: spec.placement.maxPerNode,
    liteOn,
    hasLite,
    weights: WEIGHTS[spec.tiering.objective],
    eligible,
    committedMiB: input.committedMiB,
    otherWorkloads: input.otherWorkloads ?? NO_WORKLOADS,
    nodes,
    domainCount: new Int32Array(spreadBy !== undefined ? domainIds.size : nodes.length),
    fleet,
    scratch: { acc: -1, accId: '', variant: spec.model.variants[0]!, p99Ms: 0, measured: false, meetsSlo: false, joules: 0 },
    usedMiB: new Float64Array(fleet.accBase[nodes.length]!),
    nodeWeights: Float64Array.from(nodeScorePlugins, (p) => p.weight(WEIGHTS[spec.tiering.objective])),
  };
  // The node table: pair counts and tiers of every node the node-level filters admit. A NotReady
  // node keeping its replicas is scanned too, so its current replicas can be checked.
  for (const node of nodes) {
    if (admittedAlone(ctx, node)) buildPairs(ctx, node);
  }
  return ctx;
}
