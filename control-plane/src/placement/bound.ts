// An upper bound of a node's local score (localScore in choose.ts) from a few array reads: the
// best pair its hardware signature could run on each accelerator, whatever the free memory,
// battery cap, link, cache or backoff (each only takes pairs away), plus that accelerator's load
// term. The heap chooser ranks a node it has not evaluated by this bound and evaluates it only
// when the bound reaches the top, so a plan evaluates the nodes that can still win a replica
// instead of every node, and returns the naive planner's plan all the same.
import { batteryCap, precisionRank } from './battery.ts';
import { nodeReady, nodeSelector, nodeUnschedulable } from './filters.ts';
import type { NodeInfo, PlanContext } from './framework.ts';
import { measuredNodes } from './memo.ts';
import { joulesPerInference, predictP99Ms } from './predict.ts';
import { accuracy, energy, idleScore, load, nodeScorePlugins, sloHeadroom } from './score.ts';
import { nodeWorkloadCap } from './workload-cap.ts';

/**
 * Added to every bound: the bound sums the plugins in another order than nodeScore, and a
 * rounding difference must never put a bound under the score it bounds.
 */
const SLACK = 1e-9;

/**
 * The best pair score (every node plugin but Load) per accelerator of each hardware signature,
 * at FleetFacts.signatureSlotBase, under each battery cap (by precision rank: the variants that
 * cap allows); -Infinity on an accelerator that runs none of them. `measured`: the same with p99
 * and joules at 0, the most a measurement could give.
 */
export interface SignatureBounds {
  predicted: [Float64Array, Float64Array, Float64Array];
  measured: [Float64Array, Float64Array, Float64Array];
}

/** Per plan, per variant: the weighted Accuracy score, then a measurement's best pair score (see signatureBounds). */
let perVariant = new Float64Array(32);

/** Fills the signature bounds for this plan: one pass over each signature's accelerators. */
function signatureBounds(ctx: PlanContext): SignatureBounds {
  const fleet = ctx.fleet;
  const table = ctx.eligible[0]; // the widest list: every cap allows a subset of it
  const nv = table.variants.length;
  const efficiency = ctx.options.efficiency;
  const w = ctx.nodeWeights;
  const wHeadroom = w[nodeScorePlugins.indexOf(sloHeadroom)]!;
  const wAccuracy = w[nodeScorePlugins.indexOf(accuracy)]!;
  const wEnergy = w[nodeScorePlugins.indexOf(energy)]!;
  const { predicted, measured } = fleet.buffers.signatureBounds;
  const tier = ctx.scratch;
  const signatures = fleet.signatureFirst.length;
  // Read once: each is a module binding, and this loop runs for every accelerator signature.
  const headroomScore = sloHeadroom.score;
  const accuracyScore = accuracy.score;
  const energyScore = energy.score;
  const predict = predictP99Ms;
  const joulesOf = joulesPerInference;
  // The Accuracy term, and a measurement's best pair score (p99 and joules at 0), depend on the
  // variant alone: once per variant, not per accelerator of every signature.
  if (perVariant.length < 2 * nv) perVariant = new Float64Array(2 * nv);
  const byAccuracy = perVariant;
  for (let v = 0; v < nv; v++) {
    tier.variant = table.variants[v]!;
    byAccuracy[v] = wAccuracy * accuracyScore(ctx, NO_NODE, tier);
    tier.p99Ms = 0;
    tier.joules = 0;
    byAccuracy[nv + v] = wHeadroom * headroomScore(ctx, NO_NODE, tier) + byAccuracy[v]! + wEnergy * energyScore(ctx, NO_NODE, tier);
  }
  for (let s = 0; s < signatures; s++) {
    const first = fleet.signatureFirst[s]!;
    const base = fleet.accBase[first]!;
    const nacc = fleet.accBase[first + 1]! - base;
    const out = fleet.signatureSlotBase[s]!;
    for (let a = 0; a < nacc; a++) {
      const slot = base + a;
      let best0 = -Infinity;
      let best1 = -Infinity;
      let best2 = -Infinity;
      let any0 = -Infinity;
      let any1 = -Infinity;
      let any2 = -Infinity;
      for (let v = 0; v < nv; v++) {
        const t = fleet.tops[slot * 3 + table.rank[v]!]!;
        if (t === 0) continue;
        tier.variant = table.variants[v]!;
        const any = byAccuracy[nv + v]!;
        tier.p99Ms = predict(table.gflops[v]!, t, efficiency);
        tier.joules = joulesOf(fleet.watts[slot]!, tier.p99Ms);
        const score = wHeadroom * headroomScore(ctx, NO_NODE, tier) + byAccuracy[v]! + wEnergy * energyScore(ctx, NO_NODE, tier);
        // A cap allows the variants of its precision rank or above (allowedUnder).
        const rank = table.rank[v]!;
        if (score > best0) best0 = score;
        if (any > any0) any0 = any;
        if (rank >= 1 && score > best1) best1 = score;
        if (rank >= 1 && any > any1) any1 = any;
        if (rank === 2 && score > best2) best2 = score;
        if (rank === 2 && any > any2) any2 = any;
      }
      predicted[0][out + a] = best0;
      predicted[1][out + a] = best1;
      predicted[2][out + a] = best2;
      measured[0][out + a] = any0;
      measured[1][out + a] = any1;
      measured[2][out + a] = any2;
    }
  }
  return fleet.buffers.signatureBounds;
}

/** The pair plugins read the tier alone; the Load plugin reads the accelerator slot (see boundNodes). */
const NO_NODE = undefined as unknown as NodeInfo;

/** 1 for each node that reports a measured latency of one of the plan's variants. */
function measuringPlanVariants(ctx: PlanContext): Uint8Array {
  const out = ctx.fleet.buffers.measuresPlan.fill(0);
  const byDigest = measuredNodes(ctx.fleet);
  if (byDigest.size === 0) return out;
  for (const variant of ctx.eligible[0].variants) {
    const nodes = byDigest.get(variant.sha256);
    if (nodes !== undefined) for (const i of nodes) out[i] = 1;
  }
  return out;
}

/**
 * The upper bound of each node's local score for a replica of this plan, for every node whose
 * row is not evaluated yet (it holds no replica of the plan) and which the node-level filters
 * admit (each reads a column); -Infinity for the others, and for a node none of whose
 * accelerators runs one of the plan's variants.
 */
export function nodeBounds(ctx: PlanContext): Float64Array {
  boundNodes(ctx, ctx.fleet.buffers.inReserve);
  return ctx.fleet.buffers.bound;
}

/**
 * Fills the bounds (FleetFacts.buffers.bound, see nodeBounds) and lists in `reserve` the nodes
 * with a finite one, in node order, in the same pass; returns how many it listed.
 */
export function boundNodes(ctx: PlanContext, reserve: Int32Array): number {
  const fleet = ctx.fleet;
  const out = fleet.buffers.bound;
  const { predicted, measured } = signatureBounds(ctx);
  // The pair bounds by cap, read once: choosing among them per node is a branch, not a lookup.
  const predicted0 = predicted[0];
  const predicted1 = predicted[1];
  const predicted2 = predicted[2];
  const measured0 = measured[0];
  const measured1 = measured[1];
  const measured2 = measured[2];
  const n = ctx.nodes.length;
  const evaluated = ctx.evaluated;
  const measuresPlan = measuringPlanVariants(ctx);
  const batteryPercent = fleet.table.batteryPercent;
  const thresholds = ctx.spec.tiering.battery;
  const capOf = batteryCap;
  const rankOf = precisionRank;
  const signature = fleet.signature;
  const slotBase = fleet.signatureSlotBase;
  const accBase = fleet.accBase;
  const wLoad = ctx.nodeWeights[LOAD]!;
  // Read once: each is a module binding, and this loop visits every node of every plan. The
  // node-level filters and the Load score read columns by position, so no NodeInfo is read.
  const schedulable = nodeUnschedulable.passesAt;
  const ready = nodeReady.passesAt;
  const belowCap = nodeWorkloadCap.passesAt;
  const selected = nodeSelector.passesAt;
  const loadAt = idleScore;
  let listed = 0;
  for (let i = 0; i < n; i++) {
    out[i] = -Infinity;
    if (evaluated[i] === 1) continue;
    if (!selected(ctx, i) || !schedulable(ctx, i) || !ready(ctx, i) || !belowCap(ctx, i)) continue;
    // The cap the battery sets without hysteresis: the one in force is as strict or stricter.
    const percent = batteryPercent[i]!;
    const capRank = percent !== percent ? 0 : rankOf(capOf(percent, thresholds));
    const pairs =
      measuresPlan[i] === 1
        ? capRank === 0 ? measured0 : capRank === 1 ? measured1 : measured2
        : capRank === 0 ? predicted0 : capRank === 1 ? predicted1 : predicted2;
    const at = slotBase[signature[i]!]! - accBase[i]!;
    const end = accBase[i + 1]!;
    let best = -Infinity;
    for (let slot = accBase[i]!; slot < end; slot++) {
      const pair = pairs[at + slot]!;
      if (pair === -Infinity) continue;
      const score = pair + (wLoad === 0 ? 0 : wLoad * loadAt(ctx, slot));
      if (score > best) best = score;
    }
    if (best !== -Infinity) {
      out[i] = best + SLACK;
      reserve[listed++] = i;
    }
  }
  return listed;
}

const LOAD = nodeScorePlugins.indexOf(load);
