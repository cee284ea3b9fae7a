// A node's assignment holds at most MAX_WORKLOADS_PER_NODE workloads (the wire schema's bound):
// a deployment not yet counted there is refused once the others fill it, so one more tenant
// is an unplaced replica with a reason rather than an assignment that cannot be encoded.
import { MAX_WORKLOADS_PER_NODE } from '@edgeplane/api';
import type { FilterPlugin } from './framework.ts';

// Read once: the filter runs for every node of every plan.
const LIMIT: number = MAX_WORKLOADS_PER_NODE;

export const nodeWorkloadCap: FilterPlugin = {
  name: 'NodeWorkloadCap',
  // Other deployments' workloads do not change while this plan runs, and more replicas of this
  // deployment on the node are still one workload there.
  dynamic: false,
  passes: (ctx, node) => ctx.otherWorkloads.size === 0 || (ctx.otherWorkloads.get(node.view.name) ?? 0) < LIMIT,
  reason: () => `at the node's workload limit (${LIMIT})`,
};
