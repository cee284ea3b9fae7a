// Filter plugins, run in this order; the first that fails names the node's reason. Each is a pure
// predicate over a row of the plan's node table (see NodeInfo); the pair filters also carry the
// rule the pair scan applies to each (accelerator, variant) pair.
import { PRECISIONS } from '@edgeplane/api';
import type { Precision } from '@edgeplane/api';
import { SUCCESS, unschedulable } from './framework.ts';
import type { FilterPlugin, NodeFilterPlugin, NodeInfo, PairFilterPlugin, PlanContext, Status } from './framework.ts';
import { failureBackoff } from './failure-backoff.ts';
import { nodeWorkloadCap } from './workload-cap.ts';

export const nodeSelector: NodeFilterPlugin = {
  name: 'NodeSelector',
  dynamic: false,
  // The selector's verdict on every node, read from the labels once per selector and labels.
  passesAt: (ctx, i) => ctx.selectorMatch === undefined || ctx.selectorMatch[i] === 1,
  passes: (ctx, node) => nodeSelector.passesAt(ctx, node.index),
  reason: () => "didn't match the node selector",
};

export const nodeUnschedulable: NodeFilterPlugin = {
  name: 'NodeUnschedulable',
  dynamic: false,
  passesAt: (ctx, i) => ctx.fleet.table.unschedulable[i] === 0,
  passes: (ctx, node) => nodeUnschedulable.passesAt(ctx, node.index),
  reason: () => 'unschedulable',
};

export const nodeReady: NodeFilterPlugin = {
  name: 'NodeReady',
  dynamic: false,
  passesAt: (ctx, i) => ctx.fleet.table.ready[i] === 1,
  passes: (ctx, node) => nodeReady.passesAt(ctx, node.index),
  reason: () => 'not Ready',
};

export const maxPerNode: FilterPlugin = {
  name: 'MaxPerNode',
  dynamic: true,
  passes: (ctx, node) => node.count < ctx.maxPerNode,
  reason: (ctx) => `at maxPerNode (${ctx.maxPerNode})`,
};

/** "int8 or fp16": the precisions of the variants a node under `cap` may run. */
function precisionList(ctx: PlanContext, capRank: number): string {
  const present = new Set(ctx.eligible[capRank as 0 | 1 | 2].variants.map((v) => v.precision));
  return [...PRECISIONS].reverse().filter((p: Precision) => present.has(p)).join(' or ');
}

/** True when the node has the pair's variant in its cache (its link then does not matter). */
function isCached(ctx: PlanContext, node: NodeInfo, v: number): boolean {
  return node.cached !== undefined && node.cached.has(ctx.eligible[node.capRank].variants[v]!.sha256);
}

/** The accelerator runs the variant's precision: it lists it and reports TOPS for it. */
export const precisionSupport: PairFilterPlugin = {
  name: 'PrecisionSupport',
  dynamic: false,
  admits: (ctx, node, slot, v) => ctx.fleet.tops[slot * 3 + ctx.eligible[node.capRank].rank[v]!]! !== 0,
  passes: (_ctx, node) => node.supportedPairs > 0,
  reason: (ctx, node) => {
    const list = precisionList(ctx, node.capRank);
    if (list === '') return `no variant within the ${node.cap} battery cap meets minAccuracy ${Number(ctx.minAccuracy.toPrecision(3))}`;
    return `no accelerator supports ${list}`;
  },
};

/** On a lite-only link class, only lite variants, or full ones already in the cache. */
export const linkProfile: PairFilterPlugin = {
  name: 'LinkProfile',
  dynamic: false,
  admits: (ctx, node, _slot, v) => !node.liteLink || ctx.eligible[node.capRank].lite[v] !== 0 || isCached(ctx, node, v),
  passes: (_ctx, node) => node.linkPairs > 0,
  reason: (_ctx, node) => `${node.view.network?.type ?? 'link'} link needs a lite variant and no accelerator supports one`,
};

/**
 * The artifact arrives within fetchDeadlineSec over the measured link (the arithmetic of
 * canFetch); a cached artifact or an unmeasured link passes.
 */
export const artifactFetch: PairFilterPlugin = {
  name: 'ArtifactFetch',
  dynamic: false,
  admits: (ctx, node, _slot, v) => {
    const bw = ctx.fleet.table.bwMbps[node.index]!;
    if (Number.isNaN(bw)) return true;
    if ((bw > 0 ? ctx.eligible[node.capRank].sizeBits[v]! / (bw * 1e6) : Infinity) <= ctx.options.fetchDeadlineSec) return true;
    return isCached(ctx, node, v);
  },
  passes: (_ctx, node) => node.fetchablePairs > 0,
  reason: (ctx) => `link cannot fetch the model within ${ctx.options.fetchDeadlineSec}s`,
};

/** Some pair still fits the accelerator memory left by other deployments and this plan. */
export const acceleratorMemory: FilterPlugin = {
  name: 'AcceleratorMemory',
  dynamic: true,
  passes: (_ctx, node) => node.tierAcc >= 0,
  reason: () => 'insufficient accelerator memory',
};

export const filterPlugins: readonly FilterPlugin[] = [
  nodeSelector,
  nodeUnschedulable,
  nodeReady,
  nodeWorkloadCap,
  maxPerNode,
  precisionSupport,
  linkProfile,
  artifactFetch,
  failureBackoff,
  acceleratorMemory,
];

/** The filters that look at the node alone, before any pair: a node one refuses is never scanned. */
export const nodeLevelFilters: readonly NodeFilterPlugin[] = [nodeSelector, nodeUnschedulable, nodeReady, nodeWorkloadCap];

/** Runs the plugins in order and returns the first failure, or SUCCESS. */
export function runFilters(plugins: readonly FilterPlugin[], ctx: PlanContext, node: NodeInfo): Status {
  for (const plugin of plugins) {
    if (!plugin.passes(ctx, node)) return unschedulable(plugin.reason(ctx, node));
  }
  return SUCCESS;
}

/** runFilters without the reason: true when every plugin passes. */
export function passesAll(plugins: readonly FilterPlugin[], ctx: PlanContext, node: NodeInfo): boolean {
  for (let k = 0; k < plugins.length; k++) {
    if (!plugins[k]!.passes(ctx, node)) return false;
  }
  return true;
}
