// The order in which a node's (accelerator, variant) pairs serve a deployment's objective.
import type { Objective } from '@edgeplane/api';

/**
 * True when a pair with (meetsSlo, p99, accuracy, joules) `a` serves the objective better than
 * `b`. Ties keep the earlier pair (accelerator order, then variant order).
 */
export function betterTier(
  objective: Objective,
  aMeets: boolean, aP99: number, aAcc: number, aJoules: number,
  bMeets: boolean, bP99: number, bAcc: number, bJoules: number,
): boolean {
  if (objective !== 'latency' && aMeets !== bMeets) return aMeets;
  if (objective === 'latency' || !aMeets) {
    // Fastest first; also the best effort when nothing meets the SLO.
    if (aP99 !== bP99) return aP99 < bP99;
    return aAcc > bAcc;
  }
  if (objective === 'energy') {
    if (aJoules !== bJoules) return aJoules < bJoules;
    if (aP99 !== bP99) return aP99 < bP99;
    return aAcc > bAcc;
  }
  if (aAcc !== bAcc) return aAcc > bAcc;
  return aP99 < bP99;
}
