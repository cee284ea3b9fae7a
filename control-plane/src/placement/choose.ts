// Finding the best node for the next replica. Both choosers return the same node: the feasible
// node with the highest total score, ties to the lower node name. The reference runs every
// filter and score plugin on every node each time; the heap chooser keeps the static verdicts
// and scores and re-ranks only what a placement changed.
import { peekTier, refreshTier } from './candidates.ts';
import type { FilterPlugin, NodeInfo, PlanContext } from './framework.ts';
import { nodeBounds } from './bound.ts';
import { filterPlugins, nodeLevelFilters, passesAll } from './filters.ts';
import { SegmentedHeap } from './heap.ts';
import { nodeScore, spreadTerm } from './score.ts';

export interface Chooser {
  /** Index of the best feasible node, or -1 when no node can take another replica. */
  best(): number;
  /** A replica was placed on or removed from `node`: its memory, count and domain changed. */
  changed(node: number): void;
}

/** Total score of a node for one more replica in the plan's current state; -1 if nothing fits. */
export function scoreNow(ctx: PlanContext, node: NodeInfo): number {
  const tier = peekTier(ctx, node);
  if (tier === null) return -1;
  return nodeScore(ctx, node, tier) + spreadTerm(ctx, ctx.domainCount[node.domain]!);
}

/** Deterministic tie-break: lower name first (names are unique in a plan). */
export function nameBefore(a: NodeInfo, b: NodeInfo): boolean {
  return a.rank < b.rank;
}

/** Sort order by name, for Array.prototype.sort. */
export function compareNodes(a: NodeInfo, b: NodeInfo): number {
  return a.rank - b.rank;
}

export function referenceChooser(ctx: PlanContext): Chooser {
  return {
    best() {
      let best = -1;
      let bestScore = -1;
      for (const node of ctx.nodes) {
        // Naive on purpose: nothing carries over from the previous replica.
        refreshTier(ctx, node);
        if (!passesAll(filterPlugins, ctx, node)) continue;
        const score = scoreNow(ctx, node);
        if (best < 0 || score > bestScore || (score === bestScore && nameBefore(node, ctx.nodes[best]!))) {
          best = node.index;
          bestScore = score;
        }
      }
      return best;
    },
    changed() {},
  };
}

/** The static filters the node-level ones leave: judged with the node's pairs, once per plan. */
export const staticPairFilters: readonly FilterPlugin[] = filterPlugins.filter((p) => !p.dynamic && !nodeLevelFilters.includes(p));

/** Score of a node for one more replica without the spread term; NaN when it can take none. */
export function localScore(ctx: PlanContext, node: NodeInfo): number {
  const tier = node.count < ctx.maxPerNode ? peekTier(ctx, node) : null;
  return tier === null ? NaN : nodeScore(ctx, node, tier);
}

/** Nodes kept in the heaps per replica of the plan; the others wait in the reserve. */
const RESERVE_PER_REPLICA = 4;
/** Reserve nodes to keep out of the heaps at the least: fewer are not worth a reserve. */
const MIN_RESERVE = 512;
/** Up to this many topology domains, the reserve's ceiling reads the domains' counts. */
const MAX_DOMAINS_SCANNED = 256;

/**
 * A bound under which about all but `keep` of the nodes not evaluated yet wait in the reserve,
 * estimated from an even sample of the bounds; -Infinity when a reserve is not worth it.
 */
function reserveThreshold(bounds: Float64Array, evaluated: Uint8Array, sample: Float64Array, keep: number): number {
  let candidates = 0;
  for (let i = 0; i < bounds.length; i++) if (evaluated[i] === 0 && bounds[i] !== -Infinity) candidates++;
  if (candidates - keep < MIN_RESERVE) return -Infinity;
  const stride = Math.ceil(candidates / sample.length);
  let m = 0;
  let seen = 0;
  for (let i = 0; i < bounds.length; i++) {
    if (evaluated[i] === 1 || bounds[i] === -Infinity) continue;
    if (seen++ % stride === 0) sample[m++] = bounds[i]!;
  }
  const sorted = sample.subarray(0, m).sort();
  // The sampled bound with about `keep` of the candidates at or above it.
  const above = Math.min(m - 1, Math.floor((keep / candidates) * m));
  return sorted[m - 1 - above]!;
}

/**
 * The heap chooser. Rows the plan has not evaluated yet (see preparePlan's `lazy`) enter the
 * heaps keyed by an upper bound of their score (bound.ts); `evaluate` fills a row when its bound
 * reaches the top, so the nodes that cannot win a replica are never evaluated. A node's score
 * never exceeds its bound, so the top is the naive planner's choice once it is evaluated.
 */
export function heapChooser(ctx: PlanContext, evaluate: (ctx: PlanContext, i: number) => void): Chooser {
  const nodes = ctx.nodes;
  const n = nodes.length;
  const local = ctx.fleet.buffers.heapScore;
  const rank = ctx.fleet.rank;
  const staticOk = ctx.staticOk;
  const evaluated = ctx.evaluated;
  const domainOf = ctx.domainOf;
  const domains = ctx.domainCount.length;

  const nodeBefore = (a: number, b: number): boolean => {
    const la = local[a]!;
    const lb = local[b]!;
    return la !== lb ? la > lb : rank[a]! < rank[b]!;
  };
  const byNode = new SegmentedHeap(domainOf, domains, nodeBefore);
  // The spread term is the same for every node of a domain, so a domain's best node is its
  // best local score, and the best node overall is the best domain top plus its spread term.
  const domainTotal = new Float64Array(domains);
  const domainBefore = (a: number, b: number): boolean => {
    const ta = domainTotal[a]!;
    const tb = domainTotal[b]!;
    return ta !== tb ? ta > tb : rank[byNode.top(a)]! < rank[byNode.top(b)]!;
  };
  const byDomain = new SegmentedHeap(new Int32Array(domains), 1, domainBefore);

  const refresh = (i: number): void => {
    const score = staticOk[i] === 1 ? localScore(ctx, nodes[i]!) : NaN;
    if (Number.isNaN(score)) {
      byNode.remove(i);
      return;
    }
    local[i] = score;
    if (byNode.has(i)) byNode.update(i);
    else byNode.insert(i);
  };
  const refreshDomain = (d: number): void => {
    const top = byNode.top(d);
    if (top < 0) {
      byDomain.remove(d);
      return;
    }
    domainTotal[d] = local[top]! + spreadTerm(ctx, ctx.domainCount[d]!);
    if (byDomain.has(d)) byDomain.update(d);
    else byDomain.insert(d);
  };

  // Every feasible node at once from the scores the plan was prepared with (rescored where a
  // replica came or went since), every node not evaluated yet from its bound, then each heap
  // ordered in one pass. Nodes whose bound is under `reserveBelow` wait outside the heaps (most
  // nodes of a large fleet cannot win any replica), until the best node no longer beats every
  // bound there plus the spread term it could have.
  const prepared = ctx.localScore;
  const dirty = ctx.dirty;
  const bounds = nodeBounds(ctx);
  let reserveBelow = reserveThreshold(bounds, evaluated, ctx.fleet.buffers.sample, RESERVE_PER_REPLICA * ctx.spec.replicas);
  const inReserve = ctx.fleet.buffers.inReserve;
  let reserved = 0;
  // With few domains, which hold reserve nodes: the reserve's ceiling then reads their counts.
  const reserveIn = domains <= MAX_DOMAINS_SCANNED ? new Uint8Array(domains) : undefined;
  for (let i = 0; i < n; i++) {
    let score: number;
    if (evaluated[i] === 0) {
      score = bounds[i]!;
      if (score === -Infinity) continue;
      if (score < reserveBelow) {
        inReserve[reserved++] = i;
        if (reserveIn !== undefined) reserveIn[domainOf[i]!] = 1;
        continue;
      }
    } else {
      if (staticOk[i] === 0) continue;
      score = dirty[i] === 1 ? localScore(ctx, nodes[i]!) : prepared[i]!;
      if (Number.isNaN(score)) continue;
    }
    local[i] = score;
    byNode.push(i);
  }
  byNode.heapify();
  for (let d = 0; d < domains; d++) {
    const top = byNode.top(d);
    if (top < 0) continue;
    domainTotal[d] = local[top]! + spreadTerm(ctx, ctx.domainCount[d]!);
    byDomain.push(d);
  }
  byDomain.heapify();

  /**
   * True when `total` beats every node of the reserve: strictly, as a reserve node totalling as
   * much could come first by name. A reserve node's bound is under reserveBelow, and its spread
   * term at most an empty domain's or, with few domains, the emptiest of those holding one.
   */
  const beatsReserve = (total: number): boolean => {
    if (total > reserveBelow + spreadTerm(ctx, 0)) return true;
    if (reserveIn === undefined) return false;
    let fewest = Infinity;
    for (let d = 0; d < domains; d++) {
      if (reserveIn[d] === 1 && ctx.domainCount[d]! < fewest) fewest = ctx.domainCount[d]!;
    }
    return total > reserveBelow + spreadTerm(ctx, fewest);
  };
  /** Moves every node of the reserve into the heaps. */
  const release = (): void => {
    for (let k = 0; k < reserved; k++) {
      const i = inReserve[k]!;
      if (evaluated[i] === 1) continue;
      local[i] = bounds[i]!;
      byNode.insert(i);
    }
    reserved = 0;
    reserveBelow = -Infinity;
    for (let d = 0; d < domains; d++) refreshDomain(d);
  };

  return {
    best() {
      for (;;) {
        const d = byDomain.top(0);
        const top = d < 0 ? -1 : byNode.top(d);
        if (top >= 0 && evaluated[top] === 0) {
          // Its bound leads: its score decides whether it does.
          evaluate(ctx, top);
          const score = staticOk[top] === 1 ? prepared[top]! : NaN;
          if (Number.isNaN(score)) byNode.remove(top);
          else {
            local[top] = score;
            byNode.update(top);
          }
          refreshDomain(d);
          continue;
        }
        // Strictly above: a reserve node totalling as much could come first by name.
        if (reserved === 0 || (top >= 0 && beatsReserve(domainTotal[d]!))) return top;
        release();
      }
    },
    changed(i) {
      if (staticOk[i] === 1) refresh(i);
      // The domain's count changed even when this node left the heap.
      refreshDomain(domainOf[i]!);
    },
  };
}
