// Pair classes: nodes with equal hardware (TOPS and draw per accelerator), battery cap, link
// class and link and fetch verdicts pass the same pair rules with the same costs, so a plan
// applies the rules and ranks the pairs once per class, by betterTier; a member's tier is then
// the best-ranked pair its own free memory fits. The reference planner scans without them.
import { loadCommitted } from './committed.ts';
import { artifactFetch, linkProfile, precisionSupport } from './filters.ts';
import type { NodeInfo, PairClass, PlanContext } from './framework.ts';
import { MAX_CLASS_VARIANTS } from './framework.ts';
import { measuredByDigest } from './memo.ts';
import { joulesPerInference, predictP99Ms } from './predict.ts';
import { betterTier } from './tier-order.ts';

/**
 * The pair class of a node, or null when its pairs must be scanned one by one: a node with
 * failed variants, a held variant or measured latencies of this plan's variants has pairs of
 * its own, and a node whose
 * hardware no other node shares gains nothing from a class. Cached artifacts count only through
 * the link and fetch verdicts they change, so they are part of the key, not a reason to scan.
 */
export function classOf(ctx: PlanContext, node: NodeInfo): PairClass | null {
  const classes = ctx.pairClasses;
  if (classes === undefined) return null;
  if (node.excluded !== undefined || node.holdVariant !== '') return null;
  const fleet = ctx.fleet;
  const signature = fleet.signature[node.index]!;
  if (fleet.signatureCount[signature]! < 2) return null;
  const variants = ctx.eligible[node.capRank].variants;
  const nv = variants.length;
  if (nv > MAX_CLASS_VARIANTS) return null;
  if (fleet.table.hasMeasured[node.index] === 1) {
    // Measurements of other deployments' variants change nothing here (see calibration).
    const measured = measuredByDigest(node.view.measuredP99Ms);
    for (let v = 0; v < nv; v++) if (measured.has(variants[v]!.sha256)) return null;
  }
  // Which variants the link rule and the fetch rule admit (neither depends on the accelerator):
  // with these, the bandwidth and the cache no longer matter.
  const slot = node.accBase;
  let mask = 0;
  for (let v = 0; v < nv; v++) if (artifactFetch.admits(ctx, node, slot, v)) mask |= 1 << v;
  if (node.liteLink) for (let v = 0; v < nv; v++) if (linkProfile.admits(ctx, node, slot, v)) mask |= 1 << (v + MAX_CLASS_VARIANTS);
  const group = (signature * 3 + node.capRank) * 2 + (node.liteLink ? 1 : 0);
  // Most nodes of a group share its first class (every variant fetches in time): one map read.
  const first = classes.get(group);
  if (first !== undefined && first.mask === mask) return first;
  if (first === undefined) {
    const c = buildClass(ctx, node, mask);
    classes.set(group, c);
    return c;
  }
  const others = (first.others ??= new Map());
  let c = others.get(mask);
  if (c === undefined) others.set(mask, (c = buildClass(ctx, node, mask)));
  return c;
}

/**
 * Ranks a class's pairs from its first node: the pair rules and the arithmetic of scanNode on
 * every pair, memory aside, then the pairs ordered by betterTier, ties in scan order.
 */
function buildClass(ctx: PlanContext, node: NodeInfo, mask: number): PairClass {
  const fleet = ctx.fleet;
  const table = ctx.eligible[node.capRank];
  const nv = table.variants.length;
  const base = node.accBase;
  const nacc = fleet.accBase[node.index + 1]! - base;
  const efficiency = ctx.options.efficiency;
  const pairs: Array<{ acc: number; variant: number; p99: number; joules: number; meets: boolean }> = [];
  let supportedPairs = 0;
  let linkPairs = 0;
  let fetchablePairs = 0;
  for (let a = 0; a < nacc; a++) {
    const slot = base + a;
    for (let v = 0; v < nv; v++) {
      if (!precisionSupport.admits(ctx, node, slot, v)) continue;
      supportedPairs++;
      if (!linkProfile.admits(ctx, node, slot, v)) continue;
      linkPairs++;
      if (!artifactFetch.admits(ctx, node, slot, v)) continue;
      fetchablePairs++;
      const p99 = predictP99Ms(table.gflops[v]!, fleet.tops[slot * 3 + table.rank[v]!]!, efficiency);
      pairs.push({ acc: a, variant: v, p99, joules: joulesPerInference(fleet.watts[slot]!, p99), meets: p99 <= ctx.sloMs });
    }
  }
  const objective = ctx.objective;
  const better = (x: (typeof pairs)[number], y: (typeof pairs)[number]): boolean =>
    betterTier(objective, x.meets, x.p99, table.accuracy[x.variant]!, x.joules, y.meets, y.p99, table.accuracy[y.variant]!, y.joules);
  // Array.prototype.sort is stable: equal pairs keep scan order, as the scan keeps the first.
  pairs.sort((x, y) => (better(x, y) ? -1 : better(y, x) ? 1 : 0));
  return {
    mask,
    others: undefined,
    supportedPairs,
    linkPairs,
    fetchablePairs,
    // Members have no failed variants, so the backoff rule lets every fetchable pair through.
    retryablePairs: fetchablePairs,
    staticOk: -1,
    acc: pairs.map((p) => p.acc),
    variant: pairs.map((p) => p.variant),
    p99Ms: pairs.map((p) => p.p99),
    joules: pairs.map((p) => p.joules),
    meetsSlo: pairs.map((p) => p.meets),
  };
}

/** The node's tier from its class: the best-ranked pair that fits the free memory. */
export function tierFromClass(ctx: PlanContext, node: NodeInfo, c: PairClass, first: boolean): void {
  if (first) {
    node.built = true;
    node.supportedPairs = c.supportedPairs;
    node.linkPairs = c.linkPairs;
    node.fetchablePairs = c.fetchablePairs;
    node.retryablePairs = c.retryablePairs;
  }
  const memory = ctx.fleet.memoryMiB;
  const used = ctx.usedMiB;
  const need = ctx.eligible[node.capRank].memoryMiB;
  const base = node.accBase;
  for (let k = 0; k < c.acc.length; k++) {
    const slot = base + c.acc[k]!;
    loadCommitted(ctx, slot);
    const free = memory[slot]! - used[slot]!;
    if (!first && free <= 0) continue;
    if (need[c.variant[k]!]! > free) continue;
    node.tierAcc = c.acc[k]!;
    node.tierVariant = c.variant[k]!;
    ctx.tierP99Ms[node.index] = c.p99Ms[k]!;
    node.tierMeasured = false;
    node.tierMeetsSlo = c.meetsSlo[k]!;
    ctx.tierJoules[node.index] = c.joules[k]!;
    return;
  }
  node.tierAcc = -1;
  node.tierVariant = -1;
  ctx.tierP99Ms[node.index] = 0;
  node.tierMeasured = false;
  node.tierMeetsSlo = false;
  ctx.tierJoules[node.index] = 0;
}
