// The (accelerator, variant) pairs a node could run for a plan. One scan counts the pairs each
// filter stage lets through (so the precision, link and fetch filters can each name their own
// reason) and picks the pair that fits the free memory and serves the objective best. Pairs are
// not stored: a plan touches thousands of nodes and places on few, and rescanning a node after
// a placement costs less than keeping every pair of every node.
import type { Objective } from '@edgeplane/api';
import { precisionRank } from './battery.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';
import { measuredByDigest } from './memo.ts';
import { joulesPerInference, predictP99Ms } from './predict.ts';

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

/** MiB already in use on each accelerator of the node, from other deployments. */
function loadCommitted(ctx: PlanContext, node: NodeInfo): void {
  if (ctx.committedMiB.size === 0) return;
  const keys = ctx.fleet.committedKeys;
  const end = ctx.fleet.accBase[node.index + 1]!;
  for (let slot = node.accBase; slot < end; slot++) {
    const mib = ctx.committedMiB.get(keys[slot]!);
    if (mib !== undefined) ctx.usedMiB[slot] = mib;
  }
}

/**
 * Scans every pair of the node; the first scan also records the filter-stage counts.
 * The arithmetic is that of predictP99Ms, canFetch and joulesPerInference, on arrays.
 */
export function scanNode(ctx: PlanContext, node: NodeInfo): void {
  const view = node.view;
  const fleet = ctx.fleet;
  const first = !node.built;
  if (first) loadCommitted(ctx, node);
  const table = ctx.eligible[precisionRank(node.cap) as 0 | 1 | 2];
  const variants = table.variants;
  const nv = variants.length;
  const base = node.accBase;
  const nacc = fleet.accBase[node.index + 1]! - base;
  const { efficiency, fetchDeadlineSec } = ctx.options;
  const objective = ctx.objective;
  const sloMs = ctx.sloMs;
  const bw = view.network?.bandwidthMbps;
  const bwBits = bw === undefined ? 0 : bw * 1e6;
  const cached = view.cachedArtifacts.size > 0 ? view.cachedArtifacts : undefined;
  const measured = view.measuredP99Ms.size > 0 ? measuredByDigest(view.measuredP99Ms) : undefined;
  const liteLink = node.liteLink;
  const used = ctx.usedMiB;
  const tops = fleet.tops;
  let supportedPairs = 0;
  let linkPairs = 0;
  let fetchablePairs = 0;
  let retryablePairs = 0;
  const excluded = node.excluded !== undefined && node.excluded.size > 0 ? node.excluded : undefined;
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
  for (let a = 0; a < nacc; a++) {
    const slot = base + a;
    const free = fleet.memoryMiB[slot]! - used[slot]!;
    const scale = measured === undefined ? 1 : calibration(measured, table, fleet.ids[slot]!, tops, slot, efficiency);
    // After the first scan only pairs that fit matter, and those need free memory.
    if (!first && free <= 0) continue;
    const watts = fleet.watts[slot]!;
    for (let v = 0; v < nv; v++) {
      const t = tops[slot * 3 + table.rank[v]!]!;
      if (t === 0) continue;
      supportedPairs++;
      const isCached = cached !== undefined && cached.has(variants[v]!.sha256);
      if (liteLink && table.lite[v] === 0 && !isCached) continue;
      linkPairs++;
      if (!isCached && bw !== undefined && !((bw > 0 ? table.sizeBits[v]! / bwBits : Infinity) <= fetchDeadlineSec)) continue;
      fetchablePairs++;
      if (excluded !== undefined && excluded.has(variants[v]!.name)) continue;
      retryablePairs++;
      if (table.memoryMiB[v]! > free) continue;
      const m = measured?.get(variants[v]!.sha256)?.get(fleet.ids[slot]!);
      const p99 = m ?? predictP99Ms(table.gflops[v]!, t, efficiency) * scale;
      const joules = joulesPerInference(watts, p99);
      const meets = p99 <= sloMs;
      const accuracy = table.accuracy[v]!;
      if (node.holdVariant !== '' && variants[v]!.name === node.holdVariant && fleet.ids[slot] === node.holdAcc) {
        heldAcc = a;
        heldVariant = v;
        heldP99 = p99;
        heldMeasured = m !== undefined;
        heldMeets = meets;
        heldJoules = joules;
      }
      if (bestAcc < 0 || betterTier(objective, meets, p99, accuracy, joules, bestMeets, bestP99, table.accuracy[bestVariant]!, bestJoules)) {
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
  node.tierP99Ms = bestP99;
  node.tierMeasured = bestMeasured;
  node.tierMeetsSlo = bestMeets;
  node.tierJoules = bestJoules;
  node.tierFresh = true;
}

/** Makes sure the node's filter-stage counts exist; the static filters read them. */
export function buildCandidates(ctx: PlanContext, node: NodeInfo): void {
  if (!node.built) scanNode(ctx, node);
}

/**
 * True when some pair fits for one more replica. The choice is cached until a replica is
 * placed on or removed from the node (see invalidateTier).
 */
export function hasTier(ctx: PlanContext, node: NodeInfo): boolean {
  if (!node.tierFresh) scanNode(ctx, node);
  return node.tierAcc >= 0;
}

function fill(ctx: PlanContext, node: NodeInfo, c: Candidate): Candidate {
  c.acc = node.tierAcc;
  c.accId = ctx.fleet.ids[node.accBase + node.tierAcc]!;
  c.variant = ctx.eligible[precisionRank(node.cap) as 0 | 1 | 2].variants[node.tierVariant]!;
  c.p99Ms = node.tierP99Ms;
  c.measured = node.tierMeasured;
  c.meetsSlo = node.tierMeetsSlo;
  c.joules = node.tierJoules;
  return c;
}

/** The node's tier in ctx.scratch, valid until the next call; null when nothing fits. */
export function peekTier(ctx: PlanContext, node: NodeInfo): Candidate | null {
  return hasTier(ctx, node) ? fill(ctx, node, ctx.scratch) : null;
}

/** The node's tier as an object of its own, for a placement; null when nothing fits. */
export function chooseTier(ctx: PlanContext, node: NodeInfo): Candidate | null {
  return hasTier(ctx, node) ? fill(ctx, node, { ...ctx.scratch }) : null;
}

export function invalidateTier(node: NodeInfo): void {
  node.tierFresh = false;
}
