// Finding the best node for the next replica. Both choosers return the same node: the feasible
// node with the highest total score, ties to the lower node name. The reference runs every
// filter and score plugin on every node each time; the heap chooser keeps the static verdicts
// and scores and re-ranks only what a placement changed.
import { peekTier, refreshTier } from './candidates.ts';
import type { FilterPlugin, NodeInfo, PlanContext } from './framework.ts';
import { signatureBounds, nodeBound } from './bound.ts';
import { filterPlugins, nodeLevelFilters, nodeReady, nodeUnschedulable, passesAll } from './filters.ts';
import { SegmentedHeap } from './heap.ts';
import { nodeScore, spreadTerm } from './score.ts';
import { nodeWorkloadCap } from './workload-cap.ts';

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
  // ordered in one pass. The node-level filters that read a column judge a node before its bound:
  // a node they refuse can take no replica.
  const prepared = ctx.localScore;
  const dirty = ctx.dirty;
  const bounds = signatureBounds(ctx);
  for (let i = 0; i < n; i++) {
    let score: number;
    if (evaluated[i] === 0) {
      const node = nodes[i]!;
      if (!nodeUnschedulable.passes(ctx, node) || !nodeReady.passes(ctx, node) || !nodeWorkloadCap.passes(ctx, node)) continue;
      score = nodeBound(ctx, bounds, node);
      if (score === -Infinity) continue;
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

  return {
    best() {
      for (;;) {
        const d = byDomain.top(0);
        if (d < 0) return -1;
        const top = byNode.top(d);
        if (evaluated[top] === 1) return top;
        // Its bound leads: its score decides whether it does.
        evaluate(ctx, top);
        const score = staticOk[top] === 1 ? prepared[top]! : NaN;
        if (Number.isNaN(score)) byNode.remove(top);
        else {
          local[top] = score;
          byNode.update(top);
        }
        refreshDomain(d);
      }
    },
    changed(i) {
      if (staticOk[i] === 1) refresh(i);
      // The domain's count changed even when this node left the heap.
      refreshDomain(domainOf[i]!);
    },
  };
}
