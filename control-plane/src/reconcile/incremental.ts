// Re-plans only the replicas on nodes whose view changed since the deployment's last plan, when
// that provably gives the full plan's result. It does when the deployment fills every node of the
// plan's list to maxPerNode (the every-node deployment): a released replica then has no other
// feasible node to move to, so the full plan keeps each replica on its node, re-tiers it from
// that node's own inputs, and drops it (unplaced) only when the node fails a filter. A node whose
// inputs did not change therefore keeps exactly its placement, and the changed nodes are planned
// by the same planner over a list of just them. Anything else returns null: the caller plans in full.
import { defaultPlacementOptions, planDeployment } from '../placement/index.ts';
import type { NodeView, Placement, PlanInput } from '../placement/types.ts';

/** What a deployment's last plan was computed from, kept to compare the next one's input with. */
export interface PlanBasis {
  /** The plan's node list, copied (the reconciler's list is reused between plans). */
  views: readonly NodeView[];
  /** The plan's clock. */
  nowMs: number;
  /** The placements the plan returned (what `current` holds next time). */
  placements: readonly Placement[];
}

export interface IncrementalPlan {
  /** `current` itself when nothing was re-planned. */
  placements: readonly Placement[];
  /** Nodes the sub-plan covered: the only ones whose placements may differ from `current`. */
  nodes: Set<string>;
  /** Positions in `placements` (and in `current`) that were re-planned. */
  positions: number[];
}

/** Most changed nodes planned on their own; more, and one full plan costs about as much. */
export const MAX_CHANGED_FRACTION = 1 / 8;

const orderKey = (p: Placement) => `${p.node}\u0000${p.accelerator}\u0000${p.variant}`;

/** True when the list is in the order the planner returns a re-plan in (node, accelerator, variant). */
function inPlanOrder(list: readonly Placement[]): boolean {
  let prev = '';
  for (const p of list) {
    const k = orderKey(p);
    if (k < prev) return false;
    prev = k;
  }
  return true;
}

/**
 * The plan `planDeployment(input)` would return, computed from the changed nodes alone; null when
 * the shortcut does not apply. `basis` must describe the plan that produced `input.current`, and
 * the caller must have checked that every input other than the node views and the clock (spec,
 * other deployments' placements, excluded variants, options) is the same as that plan's.
 */
export function planChangedNodes(input: PlanInput, basis: PlanBasis): IncrementalPlan | null {
  const { nodes, current, spec } = input;
  if (current !== basis.placements || nodes.length !== basis.views.length || nodes.length === 0) return null;
  if (current.length !== spec.replicas || input.nowMs === undefined) return null;
  const changed: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const view = nodes[i]!;
    if (view === basis.views[i]) continue;
    if (view.name !== basis.views[i]!.name) return null;
    changed.push(i);
  }
  if (changed.length > Math.max(1, Math.floor(nodes.length * MAX_CHANGED_FRACTION))) return null;

  // Saturation: every node of the list holds maxPerNode replicas and no replica is elsewhere.
  const maxPerNode = spec.placement.maxPerNode;
  if (current.length !== nodes.length * maxPerNode) return null;
  const perNode = new Map<string, number>();
  for (const p of current) {
    if (p.deployment !== input.key) return null;
    perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
  }
  if (perNode.size !== nodes.length) return null;
  for (const view of nodes) if (perNode.get(view.name) !== maxPerNode) return null;
  if (!inPlanOrder(current)) return null;

  // A node whose hold on a faster variant ran out since the last plan would be re-tiered by a
  // full plan although its view did not change.
  const holdMs = input.options?.upgradeHoldMs ?? defaultPlacementOptions.upgradeHoldMs;
  const changedNames = new Set(changed.map((i) => nodes[i]!.name));
  if (holdMs > 0) {
    for (const p of current) {
      if (p.sinceMs === undefined || changedNames.has(p.node)) continue;
      if (basis.nowMs - p.sinceMs < holdMs !== input.nowMs - p.sinceMs < holdMs) return null;
    }
  }

  // Nothing changed since the plan that made `current` (a reconcile that saw a change before its
  // notice came, a retry): the full plan would return `current` again, the same list.
  if (changed.length === 0) return { placements: current, nodes: changedNames, positions: [] };

  const positions: number[] = [];
  const mine: Placement[] = [];
  current.forEach((p, i) => {
    if (changedNames.has(p.node)) {
      positions.push(i);
      mine.push(p);
    }
  });
  const sub = planDeployment({
    ...input,
    spec: { ...spec, replicas: mine.length },
    nodes: changed.map((i) => nodes[i]!),
    current: mine,
  });
  // A dropped replica would be unplaced with a message counting the whole fleet: plan in full.
  if (sub.unplaced !== 0 || sub.placements.length !== mine.length) return null;
  const placements = current.slice();
  for (let k = 0; k < positions.length; k++) {
    const planned = sub.placements[k]!;
    if (planned.node !== mine[k]!.node) return null;
    placements[positions[k]!] = planned;
  }
  return { placements, nodes: changedNames, positions };
}
