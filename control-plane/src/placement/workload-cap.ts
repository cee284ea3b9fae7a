// A node's assignment holds at most MAX_WORKLOADS_PER_NODE workloads (the wire schema's bound):
// a deployment not yet counted there is refused once the others fill it, so one more tenant
// is an unplaced replica with a reason rather than an assignment that cannot be encoded.
import { MAX_WORKLOADS_PER_NODE } from '@edgeplane/api';
import type { NodeFilterPlugin } from './framework.ts';

// Read once: the filter runs for every node of every plan.
const LIMIT: number = MAX_WORKLOADS_PER_NODE;

/**
 * Positions of the nodes other deployments fill, from PlanInput.otherWorkloads: one pass over the
 * map (sequential) instead of a lookup by name for every node of every plan. Undefined: none.
 */
export function fullNodes(otherWorkloads: ReadonlyMap<string, number>, positions: ReadonlyMap<string, number>, nodes: number): Uint8Array | undefined {
  let full: Uint8Array | undefined;
  for (const [name, workloads] of otherWorkloads) {
    if (workloads < LIMIT) continue;
    const i = positions.get(name);
    if (i !== undefined) (full ??= new Uint8Array(nodes))[i] = 1;
  }
  return full;
}

export const nodeWorkloadCap: NodeFilterPlugin = {
  name: 'NodeWorkloadCap',
  // Other deployments' workloads do not change while this plan runs, and more replicas of this
  // deployment on the node are still one workload there.
  dynamic: false,
  passesAt: (ctx, i) => ctx.workloadFull === undefined || ctx.workloadFull[i] === 0,
  passes: (ctx, node) => nodeWorkloadCap.passesAt(ctx, node.index),
  reason: () => `at the node's workload limit (${LIMIT})`,
};
