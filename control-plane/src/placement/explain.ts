// Why each node holds a replica of a deployment or not, in the plugins' own words: the first
// filter that refuses it (kube-scheduler's reason), or its score beside the nodes chosen.
// Pure, for tools that show a plan (the kubectl plugin's `why`); the planner does not use it.
import { peekTier } from './candidates.ts';
import type { PlanContext } from './framework.ts';
import { filterPlugins } from './filters.ts';
import { planDeployment } from './plan.ts';
import { ensureRow, preparePlan } from './prepare.ts';
import { nodeScorePlugins, topologySpread } from './score.ts';
import type { Placement, PlanInput, PlanResult } from './types.ts';

export interface NodeVerdict {
  node: string;
  /** Replicas the plan puts on this node. */
  placed: Placement[];
  /** The first filter that refuses a replica of this deployment here. */
  filtered?: { plugin: string; reason: string };
  /**
   * What one replica here would score with nothing of this plan placed yet: each plugin's
   * 0..100 and weight, and the weighted total the planner ranks nodes by.
   */
  score?: {
    total: number;
    accelerator: string;
    variant: string;
    plugins: Array<{ plugin: string; score: number; weight: number }>;
  };
}

export interface PlacementExplanation {
  result: PlanResult;
  /** Every node of the input, in input order. */
  nodes: NodeVerdict[];
}

function verdictFor(ctx: PlanContext, i: number, placed: Placement[]): NodeVerdict {
  ensureRow(ctx, i);
  const node = ctx.nodes[i]!;
  const verdict: NodeVerdict = { node: node.view.name, placed };
  for (const plugin of filterPlugins) {
    if (!plugin.passes(ctx, node)) {
      verdict.filtered = { plugin: plugin.name, reason: plugin.reason(ctx, node) };
      return verdict;
    }
  }
  const tier = peekTier(ctx, node);
  if (tier === null) return verdict;
  const plugins = nodeScorePlugins.map((p) => ({ plugin: p.name, score: p.score(ctx, node, tier), weight: p.weight(ctx.weights) }));
  plugins.push({ plugin: topologySpread.name, score: topologySpread.score(ctx, node, tier), weight: topologySpread.weight(ctx.weights) });
  const total = plugins.reduce((sum, p) => sum + p.score * p.weight, 0);
  verdict.score = { total, accelerator: tier.accId, variant: tier.variant.name, plugins };
  return verdict;
}

/** The plan for `input` and, for every node, why it holds replicas or not. */
export function explainPlacement(input: PlanInput): PlacementExplanation {
  const result = planDeployment(input);
  const byNode = new Map<string, Placement[]>();
  for (const p of result.placements) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  // Judged before any replica of this plan is placed: a node's own verdict, not one that
  // depends on the order replicas were placed in.
  const ctx = preparePlan(input, false, false);
  const nodes = input.nodes.map((_, i) => verdictFor(ctx, i, byNode.get(ctx.nodes[i]!.view.name) ?? []));
  return { result, nodes };
}
