// Filter plugins, run in this order; the first that fails names the node's reason.
import { PRECISIONS } from '@edgeplane/api';
import type { Precision } from '@edgeplane/api';
import { precisionRank } from './battery.ts';
import { buildCandidates, hasTier } from './candidates.ts';
import { SUCCESS, unschedulable } from './framework.ts';
import type { FilterPlugin, NodeInfo, PlanContext, Status } from './framework.ts';
import { failureBackoff } from './failure-backoff.ts';
import { matchesSelector } from './labels.ts';
import { nodeWorkloadCap } from './workload-cap.ts';

const NOT_SELECTED = unschedulable("didn't match the node selector");
const UNSCHEDULABLE = unschedulable('unschedulable');
const NOT_READY = unschedulable('not Ready');
const NO_MEMORY = unschedulable('insufficient accelerator memory');

export const nodeSelector: FilterPlugin = {
  name: 'NodeSelector',
  dynamic: false,
  filter: (ctx, node) => (matchesSelector(ctx.spec.placement.selector, node.view.labels) ? SUCCESS : NOT_SELECTED),
};

export const nodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  dynamic: false,
  filter: (_ctx, node) => (node.view.unschedulable ? UNSCHEDULABLE : SUCCESS),
};

export const nodeReady: FilterPlugin = {
  name: 'NodeReady',
  dynamic: false,
  filter: (_ctx, node) => (node.view.ready ? SUCCESS : NOT_READY),
};

export const maxPerNode: FilterPlugin = {
  name: 'MaxPerNode',
  dynamic: true,
  filter: (ctx, node) => (node.count < ctx.maxPerNode ? SUCCESS : unschedulable(`at maxPerNode (${ctx.maxPerNode})`)),
};

/** "int8 or fp16": the precisions of the variants a node under `cap` may run. */
function precisionList(ctx: PlanContext, cap: Precision): string {
  const present = new Set(ctx.eligible[precisionRank(cap) as 0 | 1 | 2].variants.map((v) => v.precision));
  return [...PRECISIONS].reverse().filter((p) => present.has(p)).join(' or ');
}

export const precisionSupport: FilterPlugin = {
  name: 'PrecisionSupport',
  dynamic: false,
  filter: (ctx, node) => {
    buildCandidates(ctx, node);
    if (node.supportedPairs > 0) return SUCCESS;
    const list = precisionList(ctx, node.cap);
    if (list === '') return unschedulable(`no variant within the ${node.cap} battery cap meets minAccuracy ${Number(ctx.minAccuracy.toPrecision(3))}`);
    return unschedulable(`no accelerator supports ${list}`);
  },
};

export const linkProfile: FilterPlugin = {
  name: 'LinkProfile',
  dynamic: false,
  filter: (ctx, node) => {
    buildCandidates(ctx, node);
    if (node.linkPairs > 0) return SUCCESS;
    return unschedulable(`${node.view.network?.type ?? 'link'} link needs a lite variant and no accelerator supports one`);
  },
};

export const artifactFetch: FilterPlugin = {
  name: 'ArtifactFetch',
  dynamic: false,
  filter: (ctx, node) => {
    buildCandidates(ctx, node);
    if (node.fetchablePairs > 0) return SUCCESS;
    return unschedulable(`link cannot fetch the model within ${ctx.options.fetchDeadlineSec}s`);
  },
};

/** Some candidate still fits the accelerator memory left by other deployments and this plan. */
export const acceleratorMemory: FilterPlugin = {
  name: 'AcceleratorMemory',
  dynamic: true,
  filter: (ctx, node) => (hasTier(ctx, node) ? SUCCESS : NO_MEMORY),
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

/** Runs the plugins in order and returns the first failure, or SUCCESS. */
export function runFilters(plugins: readonly FilterPlugin[], ctx: PlanContext, node: NodeInfo): Status {
  for (const plugin of plugins) {
    const status = plugin.filter(ctx, node);
    if (status !== SUCCESS) return status;
  }
  return SUCCESS;
}
