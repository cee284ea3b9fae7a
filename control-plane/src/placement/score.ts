// Score plugins, each 0..100, combined with weights that depend on the objective. Spread is
// kept apart from the node's own score because it depends on the node's topology domain only.
import type { Objective } from '@edgeplane/api';
import type { Candidate, NodeInfo, PlanContext, ScorePlugin, Weights } from './framework.ts';

/** Weights per objective; each row sums to 1, so a total score is again 0..100. */
export const WEIGHTS: Readonly<Record<Objective, Weights>> = {
  accuracy: { headroom: 0.2, accuracy: 0.4, load: 0.2, energy: 0, spread: 0.2 },
  latency: { headroom: 0.4, accuracy: 0.2, load: 0.2, energy: 0, spread: 0.2 },
  energy: { headroom: 0.15, accuracy: 0.15, load: 0.2, energy: 0.3, spread: 0.2 },
};

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Share of the latency SLO left over: 100 at zero latency, 0 at or beyond the SLO. */
export const sloHeadroom: ScorePlugin = {
  name: 'SloHeadroom',
  weight: (w) => w.headroom,
  score: (ctx, _node, tier) => 100 * clamp01((ctx.sloMs - tier.p99Ms) / ctx.sloMs),
};

export const accuracy: ScorePlugin = {
  name: 'Accuracy',
  weight: (w) => w.accuracy,
  score: (_ctx, _node, tier) => 100 * tier.variant.accuracy,
};

/** The Load score of one accelerator slot (FleetFacts.accBase): 100 idle, 0 fully busy. */
export function idleScore(ctx: PlanContext, slot: number): number {
  return 100 * (1 - clamp01(ctx.fleet.table.util[slot]!));
}

/** Idle accelerators first; no report counts as idle. */
export const load: ScorePlugin = {
  name: 'Load',
  weight: (w) => w.load,
  // The tier's accelerator alone decides it, so the score bound asks idleScore per slot.
  score: (ctx, node, tier) => idleScore(ctx, node.accBase + tier.acc),
};

/** 100 at zero joules per inference, 50 at one joule. */
export const energy: ScorePlugin = {
  name: 'Energy',
  weight: (w) => w.energy,
  score: (_ctx, _node, tier) => 100 / (1 + tier.joules),
};

/** Plugins that depend on the node and its tier; summed in this order. */
export const nodeScorePlugins: readonly ScorePlugin[] = [sloHeadroom, accuracy, load, energy];

/**
 * Weighted sum of the node plugins for `tier` on `node`, 0..100 times their weight share; the
 * weights are the plan's (PlanContext.nodeWeights), resolved once per plan.
 */
export function nodeScore(ctx: PlanContext, node: NodeInfo, tier: Candidate): number {
  const weights = ctx.nodeWeights;
  let sum = 0;
  for (let k = 0; k < nodeScorePlugins.length; k++) {
    const w = weights[k]!;
    if (w !== 0) sum += w * nodeScorePlugins[k]!.score(ctx, node, tier);
  }
  return sum;
}

/** Fewer replicas in the same topology domain score higher: 100 / (1 + replicas there). */
export function spreadScore(replicasInDomain: number): number {
  return 100 / (1 + replicasInDomain);
}

/** Ranks by replicas of this plan already in the node's topology domain (spreadBy, or the node). */
export const topologySpread: ScorePlugin = {
  name: 'TopologySpread',
  weight: (w) => w.spread,
  score: (ctx, node) => spreadScore(ctx.domainCount[node.domain] ?? 0),
};

/** Every score plugin; the planner sums the node plugins first and the spread last. */
export const scorePlugins: readonly ScorePlugin[] = [...nodeScorePlugins, topologySpread];

/** The spread plugin's weighted share for a domain holding `replicasInDomain` of this plan. */
export function spreadTerm(ctx: PlanContext, replicasInDomain: number): number {
  return ctx.weights.spread * spreadScore(replicasInDomain);
}
