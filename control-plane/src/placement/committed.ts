// Memory other deployments committed on each accelerator slot (PlanInput.committedMiB), read
// into the plan's usedMiB when a slot is first checked.
import type { PlanContext } from './framework.ts';

/**
 * Adds the MiB other deployments committed on an accelerator slot to its use, once per plan and
 * only for slots a tier is checked against: most nodes of a class fit their best pair, and
 * looking up the others' memory is a string-keyed map read per slot.
 */
export function loadCommitted(ctx: PlanContext, slot: number): void {
  if (ctx.committedLoaded[slot] === 1) return;
  ctx.committedLoaded[slot] = 1;
  if (ctx.committedMiB.size === 0) return;
  const mib = ctx.committedMiB.get(ctx.fleet.committedKeys[slot]!);
  if (mib !== undefined) ctx.usedMiB[slot]! += mib;
}
