// Finding the best node for the next replica. Both choosers return the same node: the feasible
// node with the highest total score, ties to the lower node name. The reference runs every
// filter and score plugin on every node each time; the heap chooser keeps the static verdicts
// and scores and re-ranks only what a placement changed.
import { peekTier, refreshTier } from './candidates.ts';
import type { FilterPlugin, NodeInfo, PlanContext } from './framework.ts';
import { boundNodes } from './bound.ts';
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
export const staticPairFilters: readonly FilterPlugin[] = filterPlugins.filter(
  (p) => !p.dynamic && !(nodeLevelFilters as readonly FilterPlugin[]).includes(p),
);

/** Score of a node for one more replica without the spread term; NaN when it can take none. */
export function localScore(ctx: PlanContext, node: NodeInfo): number {
  const tier = node.count < ctx.maxPerNode ? peekTier(ctx, node) : null;
  return tier === null ? NaN : nodeScore(ctx, node, tier);
}

/** Nodes let into the heaps per replica of the plan at first; each later admission doubles it. */
const RESERVE_PER_REPLICA = 4;
/** Reserve nodes to keep out of the heaps at the least: fewer are not worth a reserve. */
const MIN_RESERVE = 512;
/** Up to this many topology domains, the reserve's ceiling reads the domains' counts. */
const MAX_DOMAINS_SCANNED = 256;

/**
 * A bound with about `keep` of the reserve's `count` nodes at or above it, estimated from an even
 * sample of their bounds; -Infinity (all of them) when what would stay is not worth a reserve.
 */
function reserveThreshold(bounds: Float64Array, reserve: Int32Array, count: number, sample: Float64Array, keep: number): number {
  if (count - keep < MIN_RESERVE) return -Infinity;
  const stride = Math.ceil(count / sample.length);
  let m = 0;
  for (let k = 0; k < count; k += stride) sample[m++] = bounds[reserve[k]!]!;
  const above = Math.min(m - 1, Math.floor((keep / count) * m));
  return select(sample, m, m - 1 - above);
}

/**
 * The k-th smallest of the first m values (Hoare's selection, in place): what sorting them and
 * reading position k gives, in linear time instead of a sort per admission.
 */
function select(values: Float64Array, m: number, k: number): number {
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k]!;
}

interface ChooserHeaps {
  /** Feasible nodes per topology domain, by local score (FleetFacts.buffers.heapScore), ties by name. */
  byNode: SegmentedHeap;
  /** Domains by their top node's total (domainTotal), ties by that node's name (domainTie). */
  byDomain: SegmentedHeap;
  domainTotal: Float64Array;
  /** The name rank of each domain's top node, written with domainTotal. */
  domainTie: Int32Array;
}

/** Heaps per domain column (a fleet's own, or one of its TopologyDomains), emptied for each plan. */
const heapsByDomains = new WeakMap<Int32Array, ChooserHeaps>();

function chooserHeaps(ctx: PlanContext): ChooserHeaps {
  const domainOf = ctx.domainOf;
  let heaps = heapsByDomains.get(domainOf);
  if (heaps !== undefined) {
    heaps.byNode.clear();
    heaps.byDomain.clear();
    return heaps;
  }
  // Both orders read arrays the node list's facts own, as the domain column is.
  const domains = ctx.domainCount.length;
  const byNode = new SegmentedHeap(domainOf, domains, ctx.fleet.buffers.heapScore, ctx.fleet.rank);
  // The spread term is the same for every node of a domain, so a domain's best node is its
  // best local score, and the best node overall is the best domain top plus its spread term.
  const domainTotal = new Float64Array(domains);
  const domainTie = new Int32Array(domains);
  const byDomain = new SegmentedHeap(new Int32Array(domains), 1, domainTotal, domainTie);
  heaps = { byNode, byDomain, domainTotal, domainTie };
  heapsByDomains.set(domainOf, heaps);
  return heaps;
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
  const staticOk = ctx.staticOk;
  const evaluated = ctx.evaluated;
  const domainOf = ctx.domainOf;
  const domains = ctx.domainCount.length;

  const { byNode, byDomain, domainTotal, domainTie } = chooserHeaps(ctx);
  const rank = ctx.fleet.rank;

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
    domainTie[d] = rank[top]!;
    if (byDomain.has(d)) byDomain.update(d);
    else byDomain.insert(d);
  };

  // Every feasible node at once from the scores the plan was prepared with (rescored where a
  // replica came or went since), every node not evaluated yet from its bound, then each heap
  // ordered in one pass. Most nodes of a large fleet cannot win any replica: those not evaluated
  // wait in a reserve, and only the best-bounded enter the heaps, more whenever the best node no
  // longer beats every bound left there plus the spread term it could have.
  const prepared = ctx.localScore;
  const dirty = ctx.dirty;
  const reserve = ctx.fleet.buffers.inReserve;
  const sample = ctx.fleet.buffers.sample;
  // Every node not evaluated yet that could take a replica, with its bound: one pass.
  let reserved = boundNodes(ctx, reserve);
  const bounds = ctx.fleet.buffers.bound;
  const evaluatedRows = ctx.evaluatedRows;
  for (let k = 0; k < ctx.evaluatedCount; k++) {
    const i = evaluatedRows[k]!;
    if (staticOk[i] === 0) continue;
    const score = dirty[i] === 1 ? localScore(ctx, nodes[i]!) : prepared[i]!;
    if (Number.isNaN(score)) continue;
    local[i] = score;
    byNode.push(i);
  }
  /** Every node of the reserve has a bound under this. */
  let reserveBelow = Infinity;
  // With few domains, which hold reserve nodes: the reserve's ceiling then reads their counts.
  const reserveIn = domains <= MAX_DOMAINS_SCANNED ? new Uint8Array(domains) : undefined;
  let keep = RESERVE_PER_REPLICA * Math.max(1, ctx.spec.replicas);
  /** Lets about the `keep` best-bounded nodes of the reserve into the heaps. */
  const admit = (heapsBuilt: boolean): void => {
    reserveBelow = reserveThreshold(bounds, reserve, reserved, sample, keep);
    keep *= 2;
    let left = 0;
    reserveIn?.fill(0);
    for (let k = 0; k < reserved; k++) {
      const i = reserve[k]!;
      const bound = bounds[i]!;
      if (bound < reserveBelow) {
        reserve[left++] = i;
        if (reserveIn !== undefined) reserveIn[domainOf[i]!] = 1;
        continue;
      }
      local[i] = bound;
      if (!heapsBuilt) byNode.push(i);
      else {
        byNode.insert(i);
        refreshDomain(domainOf[i]!);
      }
    }
    reserved = left;
  };
  admit(false);
  byNode.heapify();
  for (let d = 0; d < domains; d++) {
    const top = byNode.top(d);
    if (top < 0) continue;
    domainTotal[d] = local[top]! + spreadTerm(ctx, ctx.domainCount[d]!);
    domainTie[d] = rank[top]!;
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
        admit(true);
      }
    },
    changed(i) {
      if (staticOk[i] === 1) refresh(i);
      // The domain's count changed even when this node left the heap.
      refreshDomain(domainOf[i]!);
    },
  };
}
