// The (accelerator, variant) pairs a node could run for a plan. The first scan of a node applies
// the pair filters' rules in order and records in the node's row how many pairs each lets through
// (so the precision, link, fetch and backoff filters can each pass or name their own reason), and
// every scan picks the pair that fits the free memory and serves the objective best: the tier.
// A node in a pair class (pair-classes.ts) takes its counts and tier from the class instead.
// Pairs are not stored: a plan touches thousands of nodes and places on few, and rescanning a
// node after a placement costs less than keeping every pair of every node.
import { loadCommitted } from './committed.ts';
import { artifactFetch, linkProfile, precisionSupport } from './filters.ts';
import { failureBackoff } from './failure-backoff.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';
import { measuredByDigest } from './memo.ts';
import { classOf, tierFromClass } from './pair-classes.ts';
import { joulesPerInference, predictP99Ms } from './predict.ts';
import { betterTier } from './tier-order.ts';

/**
 * How far measurement sits from prediction on one accelerator: the mean ratio of measured to
 * predicted p99 over this deployment's variants measured there, 1 when none is. Predictions for
 * the other variants on that accelerator are multiplied by it, so a measured variant (slowed by
 * load, heat or a weaker runtime than the TOPS figure) is never weighed against an optimistic
 * guess: without it the tier would switch to the unmeasured variant, get measured, and switch
 * back.
 */
function calibration(
  measured: Map<string, Map<string, number>>,
  table: PlanContext['eligible'][number],
  acceleratorId: string,
  tops: Float64Array,
  slot: number,
  efficiency: number,
): number {
  let sum = 0;
  let n = 0;
  for (let v = 0; v < table.variants.length; v++) {
    const m = measured.get(table.variants[v]!.sha256)?.get(acceleratorId);
    const t = tops[slot * 3 + table.rank[v]!]!;
    if (m === undefined || t === 0) continue;
    const predicted = predictP99Ms(table.gflops[v]!, t, efficiency);
    if (predicted > 0) {
      sum += m / predicted;
      n++;
    }
  }
  return n === 0 ? 1 : sum / n;
}

/**
 * Scans every pair of the node; the first scan (`first`) also records the pair filters' counts.
 * The arithmetic is that of predictP99Ms and joulesPerInference, on arrays.
 */
function scanNode(ctx: PlanContext, node: NodeInfo, first: boolean): void {
  const view = node.view;
  const fleet = ctx.fleet;
  if (first) node.pairClass = classOf(ctx, node);
  if (node.pairClass !== null) {
    tierFromClass(ctx, node, node.pairClass, first);
    return;
  }
  const table = ctx.eligible[node.capRank];
  const variants = table.variants;
  const nv = variants.length;
  const base = node.accBase;
  const nacc = fleet.accBase[node.index + 1]! - base;
  const efficiency = ctx.options.efficiency;
  const objective = ctx.objective;
  const sloMs = ctx.sloMs;
  const measured = fleet.table.hasMeasured[node.index] === 1 ? measuredByDigest(view.measuredP99Ms) : undefined;
  const used = ctx.usedMiB;
  const tops = fleet.tops;
  // The pair rules, in filter order; read once so the loop calls them directly.
  const supported = precisionSupport.admits;
  const linkAllows = linkProfile.admits;
  const fetchable = artifactFetch.admits;
  const retryable = failureBackoff.admits;
  const excluded = node.excluded;
  let supportedPairs = 0;
  let linkPairs = 0;
  let fetchablePairs = 0;
  let retryablePairs = 0;
  let bestAcc = -1;
  let bestVariant = -1;
  let bestP99 = 0;
  let bestMeasured = false;
  let bestMeets = false;
  let bestJoules = 0;
  // The held pair, when it is still feasible: it stands unless the best pair is faster.
  let heldAcc = -1;
  let heldVariant = -1;
  let heldP99 = 0;
  let heldMeasured = false;
  let heldMeets = false;
  let heldJoules = 0;
  const holding = node.holdVariant !== '';
  for (let a = 0; a < nacc; a++) {
    const slot = base + a;
    loadCommitted(ctx, slot);
    const free = fleet.memoryMiB[slot]! - used[slot]!;
    // After the first scan only pairs that fit matter, and those need free memory.
    if (!first && free <= 0) continue;
    const scale = measured === undefined ? 1 : calibration(measured, table, fleet.ids[slot]!, tops, slot, efficiency);
    const watts = fleet.watts[slot]!;
    for (let v = 0; v < nv; v++) {
      if (first) {
        if (!supported(ctx, node, slot, v)) continue;
        supportedPairs++;
        if (!linkAllows(ctx, node, slot, v)) continue;
        linkPairs++;
        if (!fetchable(ctx, node, slot, v)) continue;
        fetchablePairs++;
        if (excluded !== undefined && !retryable(ctx, node, slot, v)) continue;
        retryablePairs++;
        if (table.memoryMiB[v]! > free) continue;
      } else {
        // Memory first: on a rescan most pairs no longer fit, and the other rules cannot change.
        if (table.memoryMiB[v]! > free) continue;
        if (!supported(ctx, node, slot, v) || !linkAllows(ctx, node, slot, v) || !fetchable(ctx, node, slot, v)) continue;
        if (excluded !== undefined && !retryable(ctx, node, slot, v)) continue;
      }
      const t = tops[slot * 3 + table.rank[v]!]!;
      const m = measured?.get(variants[v]!.sha256)?.get(fleet.ids[slot]!);
      const p99 = m ?? predictP99Ms(table.gflops[v]!, t, efficiency) * scale;
      const joules = joulesPerInference(watts, p99);
      const meets = p99 <= sloMs;
      if (holding && variants[v]!.name === node.holdVariant && fleet.ids[slot] === node.holdAcc) {
        heldAcc = a;
        heldVariant = v;
        heldP99 = p99;
        heldMeasured = m !== undefined;
        heldMeets = meets;
        heldJoules = joules;
      }
      if (bestAcc < 0 || betterTier(objective, meets, p99, table.accuracy[v]!, joules, bestMeets, bestP99, table.accuracy[bestVariant]!, bestJoules)) {
        bestAcc = a;
        bestVariant = v;
        bestP99 = p99;
        bestMeasured = m !== undefined;
        bestMeets = meets;
        bestJoules = joules;
      }
    }
  }
  if (heldAcc >= 0 && bestP99 >= heldP99) {
    bestAcc = heldAcc;
    bestVariant = heldVariant;
    bestP99 = heldP99;
    bestMeasured = heldMeasured;
    bestMeets = heldMeets;
    bestJoules = heldJoules;
  }
  if (first) {
    node.built = true;
    node.supportedPairs = supportedPairs;
    node.linkPairs = linkPairs;
    node.fetchablePairs = fetchablePairs;
    node.retryablePairs = retryablePairs;
  }
  node.tierAcc = bestAcc;
  node.tierVariant = bestVariant;
  ctx.tierP99Ms[node.index] = bestP99;
  node.tierMeasured = bestMeasured;
  node.tierMeetsSlo = bestMeets;
  ctx.tierJoules[node.index] = bestJoules;
}

/** Fills the node's pair counts and tier; preparing a plan calls it once per admitted node. */
export function buildPairs(ctx: PlanContext, node: NodeInfo): void {
  scanNode(ctx, node, true);
}

/**
 * Chooses the node's tier again after its memory changed (a replica placed or removed);
 * a node never scanned has no tier.
 */
export function refreshTier(ctx: PlanContext, node: NodeInfo): void {
  if (node.built) scanNode(ctx, node, false);
}

function fill(ctx: PlanContext, node: NodeInfo, c: Candidate): Candidate {
  c.acc = node.tierAcc;
  c.accId = ctx.fleet.ids[node.accBase + node.tierAcc]!;
  c.variant = ctx.eligible[node.capRank].variants[node.tierVariant]!;
  c.p99Ms = ctx.tierP99Ms[node.index]!;
  c.measured = node.tierMeasured;
  c.meetsSlo = node.tierMeetsSlo;
  c.joules = ctx.tierJoules[node.index]!;
  return c;
}

/** The node's tier in ctx.scratch, valid until the next call; null when nothing fits. */
export function peekTier(ctx: PlanContext, node: NodeInfo): Candidate | null {
  return node.tierAcc >= 0 ? fill(ctx, node, ctx.scratch) : null;
}

/** The node's tier as an object of its own, for a placement; null when nothing fits. */
export function chooseTier(ctx: PlanContext, node: NodeInfo): Candidate | null {
  return node.tierAcc >= 0 ? fill(ctx, node, { ...ctx.scratch }) : null;
}
