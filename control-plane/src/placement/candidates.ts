// The (accelerator, variant) pairs a node could run for a plan. The first scan of a node applies
// the pair filters' rules in order and records in the node's row how many pairs each lets through
// (so the precision, link, fetch and backoff filters can each pass or name their own reason), and
// every scan picks the pair that fits the free memory and serves the objective best: the tier.
// Pairs are not stored: a plan touches thousands of nodes and places on few, and rescanning a
// node after a placement costs less than keeping every pair of every node.
import type { Objective } from '@edgeplane/api';
import { artifactFetch, linkProfile, precisionSupport } from './filters.ts';
import { failureBackoff } from './failure-backoff.ts';
import type { Candidate, NodeInfo, PairClass, PlanContext } from './framework.ts';
import { MAX_CLASS_VARIANTS } from './framework.ts';
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

/**
 * Adds the MiB other deployments committed on an accelerator slot to its use, once per plan and
 * only for slots a tier is checked against: most nodes of a class fit their best pair, and
 * looking up the others' memory is a string-keyed map read per slot.
 */
function loadCommitted(ctx: PlanContext, slot: number): void {
  if (ctx.committedLoaded[slot] === 1) return;
  ctx.committedLoaded[slot] = 1;
  if (ctx.committedMiB.size === 0) return;
  const mib = ctx.committedMiB.get(ctx.fleet.committedKeys[slot]!);
  if (mib !== undefined) ctx.usedMiB[slot]! += mib;
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

/**
 * The pair class of a node, or null when its pairs must be scanned one by one: a node with
 * failed variants, a held variant or measured latencies of this plan's variants has pairs of
 * its own, and a node whose
 * hardware no other node shares gains nothing from a class. Cached artifacts count only through
 * the link and fetch verdicts they change, so they are part of the key, not a reason to scan.
 */
function classOf(ctx: PlanContext, node: NodeInfo): PairClass | null {
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
  // Most nodes of a group share its first class (every variant fetches in time): no map read.
  const first = classes[group];
  if (first !== undefined && first.mask === mask) return first;
  if (first === undefined) return (classes[group] = buildClass(ctx, node, mask));
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
function tierFromClass(ctx: PlanContext, node: NodeInfo, c: PairClass, first: boolean): void {
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
