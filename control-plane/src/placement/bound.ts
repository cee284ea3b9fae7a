// An upper bound of a node's local score (localScore in choose.ts) from a few array reads: the
// best pair its hardware signature could run on each accelerator, whatever the free memory,
// battery cap, link, cache or backoff (each only takes pairs away), plus that accelerator's load
// term. The heap chooser ranks a node it has not evaluated by this bound and evaluates it only
// when the bound reaches the top, so a plan evaluates the nodes that can still win a replica
// instead of every node, and returns the naive planner's plan all the same.
import type { NodeInfo, PlanContext } from './framework.ts';
import { measuredByDigest } from './memo.ts';
import { joulesPerInference, predictP99Ms } from './predict.ts';
import { accuracy, energy, load, nodeScorePlugins, sloHeadroom } from './score.ts';

/**
 * Added to every bound: the bound sums the plugins in another order than nodeScore, and a
 * rounding difference must never put a bound under the score it bounds.
 */
const SLACK = 1e-9;

/**
 * The best pair score (every node plugin but Load) per accelerator of each hardware signature,
 * at FleetFacts.signatureSlotBase; -Infinity on an accelerator that runs none of the plan's
 * variants. `measured`: the same with p99 and joules at 0, the most a measurement could give.
 */
export interface SignatureBounds {
  predicted: Float64Array;
  measured: Float64Array;
}

/** Fills the signature bounds for this plan: one pass over each signature's accelerators. */
export function signatureBounds(ctx: PlanContext): SignatureBounds {
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
  for (let s = 0; s < signatures; s++) {
    const first = fleet.signatureFirst[s]!;
    const base = fleet.accBase[first]!;
    const nacc = fleet.accBase[first + 1]! - base;
    const out = fleet.signatureSlotBase[s]!;
    for (let a = 0; a < nacc; a++) {
      const slot = base + a;
      let best = -Infinity;
      let bestAny = -Infinity;
      for (let v = 0; v < nv; v++) {
        const t = fleet.tops[slot * 3 + table.rank[v]!]!;
        if (t === 0) continue;
        tier.variant = table.variants[v]!;
        const byAccuracy = wAccuracy * accuracy.score(ctx, NO_NODE, tier);
        tier.p99Ms = 0;
        tier.joules = 0;
        const any = wHeadroom * sloHeadroom.score(ctx, NO_NODE, tier) + byAccuracy + wEnergy * energy.score(ctx, NO_NODE, tier);
        tier.p99Ms = predictP99Ms(table.gflops[v]!, t, efficiency);
        tier.joules = joulesPerInference(fleet.watts[slot]!, tier.p99Ms);
        const score = wHeadroom * sloHeadroom.score(ctx, NO_NODE, tier) + byAccuracy + wEnergy * energy.score(ctx, NO_NODE, tier);
        if (score > best) best = score;
        if (any > bestAny) bestAny = any;
      }
      predicted[out + a] = best;
      measured[out + a] = bestAny;
    }
  }
  return fleet.buffers.signatureBounds;
}

/** The pair plugins read the tier alone; the Load plugin reads the node's row (see nodeBound). */
const NO_NODE = undefined as unknown as NodeInfo;

/** True when the node reports a measured latency of one of the plan's variants. */
function measuresPlanVariants(ctx: PlanContext, node: NodeInfo): boolean {
  const measured = measuredByDigest(node.view.measuredP99Ms);
  const variants = ctx.eligible[0].variants;
  for (let v = 0; v < variants.length; v++) if (measured.has(variants[v]!.sha256)) return true;
  return false;
}

/**
 * The upper bound of the node's local score for a replica of this plan while it holds none;
 * -Infinity when none of its accelerators runs one of the plan's variants.
 */
export function nodeBound(ctx: PlanContext, bounds: SignatureBounds, node: NodeInfo): number {
  const fleet = ctx.fleet;
  const i = node.index;
  const wLoad = ctx.nodeWeights[LOAD]!;
  const pairs = fleet.table.hasMeasured[i] === 1 && measuresPlanVariants(ctx, node) ? bounds.measured : bounds.predicted;
  const out = fleet.signatureSlotBase[fleet.signature[i]!]!;
  const base = node.accBase;
  const nacc = fleet.accBase[i + 1]! - base;
  const tier = ctx.scratch;
  let best = -Infinity;
  for (let a = 0; a < nacc; a++) {
    const pair = pairs[out + a]!;
    if (pair === -Infinity) continue;
    tier.acc = a;
    const score = pair + (wLoad === 0 ? 0 : wLoad * load.score(ctx, node, tier));
    if (score > best) best = score;
  }
  return best === -Infinity ? best : best + SLACK;
}

const LOAD = nodeScorePlugins.indexOf(load);
