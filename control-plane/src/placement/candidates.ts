// The (accelerator, variant) pairs a node could run for a plan. One scan counts the pairs each
// filter stage lets through (so the precision, link and fetch filters can each name their own
// reason) and picks the pair that fits the free memory and serves the objective best. Pairs are
// not stored: a plan touches thousands of nodes and places on few, and rescanning a node after
// a placement costs less than keeping every pair of every node.
import type { Objective } from '@edgeplane/api';
import { precisionRank } from './battery.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';
import { canFetch } from './link.ts';
import { committedKeys } from './memo.ts';
import { joulesPerInference, predictP99Ms, topsAt, wattsOf } from './predict.ts';

/**
 * True when a pair with (meetsSlo, p99, accuracy, joules) `a` serves the objective better than
 * `b`. Ties keep the earlier pair (accelerator order, then variant order).
 */
export function betterTier(
  objective: Objective,
  aMeets: boolean, aP99: number, aAcc: number, aJoules: number,
  bMeets: boolean, bP99: number, bAcc: number, bJoules: number,
): boolean {
  if (objective !== 'latency' && aMeets !== bMeets) return aMeets;
  if (objective === 'latency' || !aMeets) {
    // Fastest first; also the best effort when nothing meets the SLO.
    if (aP99 !== bP99) return aP99 < bP99;
    return aAcc > bAcc;
  }
  if (objective === 'energy') {
    if (aJoules !== bJoules) return aJoules < bJoules;
    if (aP99 !== bP99) return aP99 < bP99;
    return aAcc > bAcc;
  }
  if (aAcc !== bAcc) return aAcc > bAcc;
  return aP99 < bP99;
}

/** MiB already in use on each accelerator of the node, from other deployments. */
function loadCommitted(ctx: PlanContext, node: NodeInfo): void {
  if (ctx.committedMiB.size === 0) return;
  const keys = committedKeys(node.view);
  for (let a = 0; a < keys.length; a++) {
    const mib = ctx.committedMiB.get(keys[a]!);
    if (mib !== undefined) ctx.usedMiB[node.accBase + a] = mib;
  }
}

/** Scans every pair of the node; the first scan also records the filter-stage counts. */
export function scanNode(ctx: PlanContext, node: NodeInfo): Candidate | null {
  const first = !node.built;
  if (first) loadCommitted(ctx, node);
  const view = node.view;
  const variants = ctx.eligible[precisionRank(node.cap) as 0 | 1 | 2];
  const accs = view.accelerators;
  const { efficiency, fetchDeadlineSec } = ctx.options;
  const objective = ctx.objective;
  const sloMs = ctx.sloMs;
  const network = view.network;
  const cached = view.cachedArtifacts.size > 0 ? view.cachedArtifacts : undefined;
  // Building keys only when the node reports anything keeps the common case allocation-free.
  const measured = view.measuredP99Ms.size > 0 ? view.measuredP99Ms : undefined;
  const used = ctx.usedMiB;
  let supportedPairs = 0;
  let linkPairs = 0;
  let fetchablePairs = 0;
  let bestAcc = -1;
  let bestVariant = -1;
  let bestP99 = 0;
  let bestMeasured = false;
  let bestMeets = false;
  let bestJoules = 0;
  for (let a = 0; a < accs.length; a++) {
    const acc = accs[a]!;
    const free = acc.memoryMiB - used[node.accBase + a]!;
    // After the first scan only pairs that fit matter, and those need free memory.
    if (!first && free <= 0) continue;
    let watts = -1;
    for (let v = 0; v < variants.length; v++) {
      const variant = variants[v]!;
      const tops = topsAt(acc, variant.precision);
      if (tops === 0) continue;
      supportedPairs++;
      const isCached = cached !== undefined && cached.has(variant.sha256);
      if (node.liteLink && variant.profile === 'full' && !isCached) continue;
      linkPairs++;
      if (!isCached && !canFetch(variant.sizeBytes, network, fetchDeadlineSec)) continue;
      fetchablePairs++;
      if (variant.memoryMiB > free) continue;
      const m = measured?.get(`${variant.sha256}@${acc.id}`);
      const p99 = m ?? predictP99Ms(variant.gflops, tops, efficiency);
      if (watts < 0) watts = wattsOf(acc);
      const joules = joulesPerInference(watts, p99);
      const meets = p99 <= sloMs;
      if (
        bestAcc < 0 ||
        betterTier(objective, meets, p99, variant.accuracy, joules, bestMeets, bestP99, variants[bestVariant]!.accuracy, bestJoules)
      ) {
        bestAcc = a;
        bestVariant = v;
        bestP99 = p99;
        bestMeasured = m !== undefined;
        bestMeets = meets;
        bestJoules = joules;
      }
    }
  }
  if (first) {
    node.built = true;
    node.supportedPairs = supportedPairs;
    node.linkPairs = linkPairs;
    node.fetchablePairs = fetchablePairs;
  }
  if (bestAcc < 0) return null;
  return {
    acc: bestAcc,
    accId: accs[bestAcc]!.id,
    variant: variants[bestVariant]!,
    p99Ms: bestP99,
    measured: bestMeasured,
    meetsSlo: bestMeets,
    joules: bestJoules,
  };
}

/** Makes sure the node's filter-stage counts exist; the static filters read them. */
export function buildCandidates(ctx: PlanContext, node: NodeInfo): void {
  if (!node.built) {
    node.tier = scanNode(ctx, node);
    node.tierFresh = true;
  }
}

/**
 * The pair the node would run for one more replica, or null when nothing fits. Cached until
 * a replica is placed on or removed from the node (see invalidateTier).
 */
export function chooseTier(ctx: PlanContext, node: NodeInfo): Candidate | null {
  if (!node.tierFresh) {
    node.tier = scanNode(ctx, node);
    node.tierFresh = true;
  }
  return node.tier;
}

export function invalidateTier(node: NodeInfo): void {
  node.tierFresh = false;
}
