// The (accelerator, variant) pairs a node could run for a plan, and the filter stage each pair
// passed, so the precision, link and fetch filters can each name their own reason.
import type { ModelVariant } from '@edgeplane/api';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';
import { precisionRank } from './battery.ts';
import { canFetch } from './link.ts';
import { joulesPerInference, predictP99Ms, topsAt, wattsOf } from './predict.ts';


export function buildCandidates(ctx: PlanContext, node: NodeInfo): void {
  if (node.built) return;
  node.built = true;
  const view = node.view;
  const variants = ctx.eligible[precisionRank(node.cap) as 0 | 1 | 2];
  const accs = view.accelerators;
  const committed = ctx.committedMiB.size > 0 ? ctx.committedMiB : undefined;
  for (let a = 0; a < accs.length; a++) {
    const acc = accs[a]!;
    node.capacityMiB.push(acc.memoryMiB);
    node.usedMiB.push(committed?.get(`${view.name}/${acc.id}`) ?? 0);
  }
  const efficiency = ctx.options.efficiency;
  const deadline = ctx.options.fetchDeadlineSec;
  const network = view.network;
  const cached = view.cachedArtifacts;
  // Building keys only when the node reports anything keeps the common case allocation-free.
  const measured = view.measuredP99Ms.size > 0 ? view.measuredP99Ms : undefined;
  let supportedPairs = 0;
  let linkPairs = 0;
  for (let a = 0; a < accs.length; a++) {
    const acc = accs[a]!;
    const watts = wattsOf(acc);
    for (let v = 0; v < variants.length; v++) {
      const variant = variants[v]!;
      const tops = topsAt(acc, variant.precision);
      if (tops === 0) continue;
      supportedPairs++;
      const isCached = cached.size > 0 && cached.has(variant.sha256);
      if (node.liteLink && variant.profile === 'full' && !isCached) continue;
      linkPairs++;
      if (!isCached && !canFetch(variant.sizeBytes, network, deadline)) continue;
      const m = measured?.get(`${variant.sha256}@${acc.id}`);
      const p99Ms = m ?? predictP99Ms(variant.gflops, tops, efficiency);
      node.candidates.push({
        acc: a,
        accId: acc.id,
        variant,
        p99Ms,
        measured: m !== undefined,
        meetsSlo: p99Ms <= ctx.sloMs,
        joules: joulesPerInference(watts, p99Ms),
      });
    }
  }
  node.supportedPairs = supportedPairs;
  node.linkPairs = linkPairs;
}

/** True when candidate `a` serves the objective better than `b`; ties keep the earlier one. */
export function betterTier(objective: 'accuracy' | 'latency' | 'energy', a: Candidate, b: Candidate): boolean {
  if (objective !== 'latency' && a.meetsSlo !== b.meetsSlo) return a.meetsSlo;
  if (objective === 'latency' || !a.meetsSlo) {
    // Fastest first; also the best effort when nothing meets the SLO.
    if (a.p99Ms !== b.p99Ms) return a.p99Ms < b.p99Ms;
    return a.variant.accuracy > b.variant.accuracy;
  }
  if (objective === 'energy') {
    if (a.joules !== b.joules) return a.joules < b.joules;
    if (a.p99Ms !== b.p99Ms) return a.p99Ms < b.p99Ms;
    return a.variant.accuracy > b.variant.accuracy;
  }
  if (a.variant.accuracy !== b.variant.accuracy) return a.variant.accuracy > b.variant.accuracy;
  return a.p99Ms < b.p99Ms;
}

/** The candidate that fits the node's free memory and serves the objective best, or -1. */
export function chooseTier(ctx: PlanContext, node: NodeInfo): number {
  const cands = node.candidates;
  let best = -1;
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i]!;
    if (node.usedMiB[c.acc]! + c.variant.memoryMiB > node.capacityMiB[c.acc]!) continue;
    if (best < 0 || betterTier(ctx.objective, c, cands[best]!)) best = i;
  }
  return best;
}
