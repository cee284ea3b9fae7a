// planDeployment: where each replica of one deployment runs, and at which tier.
//
// 1. Current placements whose node still passes every filter stay for now (re-tiered in place
//    when the node's battery or link changed); the rest are dropped and placed again.
// 2. When scaling down, the lowest-scoring kept replicas go first.
// 3. Each kept replica moves only when the best alternative beats its node by keepThreshold.
// 4. New replicas go one by one to the best-scoring feasible node.
import { chooseTier, refreshTier } from './candidates.ts';
import { compareNodes, heapChooser, referenceChooser, scoreNow } from './choose.ts';
import type { Chooser } from './choose.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';
import { filterPlugins, nodeReady, passesAll, runFilters } from './filters.ts';
import { unplacedMessage } from './message.ts';
import { ensureRow, evaluateRow, preparePlan } from './prepare.ts';
import { nodeScore, spreadTerm } from './score.ts';
import { tierReason } from './tier.ts';
import type { Placement, PlanInput, PlanResult } from './types.ts';

interface Slot {
  node: NodeInfo;
  tier: Candidate;
}

/** Places one replica on `node` at its best fitting tier; the caller checked the filters. */
function commit(ctx: PlanContext, node: NodeInfo): Slot {
  const tier = chooseTier(ctx, node)!;
  ctx.usedMiB[node.accBase + tier.acc]! += tier.variant.memoryMiB;
  node.count++;
  ctx.domainCount[node.domain]!++;
  ctx.dirty[node.index] = 1;
  refreshTier(ctx, node);
  return { node, tier };
}

function release(ctx: PlanContext, slot: Slot): void {
  ctx.usedMiB[slot.node.accBase + slot.tier.acc]! -= slot.tier.variant.memoryMiB;
  slot.node.count--;
  ctx.domainCount[slot.node.domain]!--;
  ctx.dirty[slot.node.index] = 1;
  refreshTier(ctx, slot.node);
}

function toPlacement(ctx: PlanContext, slot: Slot, nowMs: number | undefined, current: ReadonlyMap<string, Placement>): Placement {
  const { node, tier } = slot;
  // The name as the rows were laid out (equal to the view's, see refreshRows): no read of the view.
  const name = ctx.fleet.names[node.index]!;
  const before = current.size === 0 ? undefined : current.get(name);
  const unchanged = before !== undefined && before.variant === tier.variant.name && before.accelerator === tier.accId;
  const sinceMs = unchanged && before.sinceMs !== undefined ? before.sinceMs : nowMs;
  const placement: Placement = {
    deployment: ctx.key,
    node: name,
    accelerator: tier.accId,
    variant: tier.variant.name,
    precision: tier.variant.precision,
    profile: tier.variant.profile,
    cap: node.cap,
    predictedP99Ms: tier.p99Ms,
    tierReason: tierReason(ctx, node, tier),
  };
  // Set, not spread from a literal: a spread copies through a slow path for every placement.
  if (sinceMs !== undefined) placement.sinceMs = sinceMs;
  return placement;
}

/** This deployment's current placements ordered by node, accelerator and variant. */
function currentInOrder(input: PlanInput): Placement[] {
  const keyed: Array<{ key: string; p: Placement }> = [];
  for (const p of input.current) {
    if (p.deployment === input.key) keyed.push({ key: `${p.node}\u0000${p.accelerator}\u0000${p.variant}`, p });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.p);
}

function plan(input: PlanInput, makeChooser: (ctx: PlanContext) => Chooser, pairClasses: boolean): PlanResult {
  // The fast planner evaluates rows as it needs them (see heapChooser); the reference, all at once.
  const ctx = preparePlan(input, pairClasses, pairClasses);
  const replicas = input.spec.replicas;
  const keepThreshold = ctx.options.keepThreshold;

  const kept: Slot[] = [];
  const current = currentInOrder(input);
  for (const p of current) {
    const i = ctx.fleet.byName.get(p.node);
    if (i === undefined) continue;
    const node = ctx.nodes[i]!;
    ensureRow(ctx, i);
    // A NotReady node within its eviction delay keeps the replicas it has (it takes no new one).
    const plugins = !node.view.ready && node.view.retainReplicas ? filterPlugins.filter((f) => f !== nodeReady) : filterPlugins;
    if (!passesAll(plugins, ctx, node)) continue;
    kept.push(commit(ctx, node));
  }

  if (kept.length > replicas) {
    const scored = kept.map((slot) => ({
      slot,
      score: nodeScore(ctx, slot.node, slot.tier) + spreadTerm(ctx, ctx.domainCount[slot.node.domain]!),
    }));
    // Lowest score leaves first; among equals the higher node name leaves first.
    scored.sort((a, b) => a.score - b.score || compareNodes(b.slot.node, a.slot.node));
    for (const { slot } of scored.slice(0, kept.length - replicas)) release(ctx, slot);
    kept.splice(0, kept.length, ...scored.slice(kept.length - replicas).map((s) => s.slot));
    kept.sort((a, b) => compareNodes(a.node, b.node));
  }

  const chooser = makeChooser(ctx);
  const placed: Slot[] = [];
  for (const slot of kept) {
    release(ctx, slot);
    chooser.changed(slot.node.index);
    let target = slot.node;
    const best = chooser.best();
    if (best >= 0 && best !== target.index) {
      const alternative = ctx.nodes[best]!;
      if (scoreNow(ctx, alternative) > scoreNow(ctx, target) + keepThreshold) target = alternative;
    }
    placed.push(commit(ctx, target));
    chooser.changed(target.index);
  }

  while (placed.length < replicas) {
    const best = chooser.best();
    if (best < 0) break;
    placed.push(commit(ctx, ctx.nodes[best]!));
    chooser.changed(best);
  }

  const unplaced = replicas - placed.length;
  const byNode = new Map(current.map((p) => [p.node, p]));
  const result: PlanResult = { placements: placed.map((slot) => toPlacement(ctx, slot, input.nowMs, byNode)), unplaced };
  if (unplaced > 0) {
    const reasons: string[] = [];
    for (const node of ctx.nodes) {
      ensureRow(ctx, node.index);
      const status = runFilters(filterPlugins, ctx, node);
      if (status.reason !== undefined) reasons.push(status.reason);
    }
    result.message = unplacedMessage(ctx.nodes.length, reasons);
  }
  return result;
}

/** Places the replicas of one deployment; pure and deterministic. */
export function planDeployment(input: PlanInput): PlanResult {
  return plan(input, (ctx) => heapChooser(ctx, evaluateRow), true);
}

/**
 * The same plan computed naively: every filter and score plugin on every node for every replica,
 * every node's pairs scanned one by one (no pair classes).
 * It defines what planDeployment must return and is the baseline its speed is measured against.
 */
export function planDeploymentReference(input: PlanInput): PlanResult {
  return plan(input, referenceChooser, false);
}
