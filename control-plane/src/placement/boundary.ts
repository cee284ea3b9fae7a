// Whether a heartbeat changes anything placement cares about for one deployment, so the
// reconciler re-plans on a battery threshold, a link class or reachability, and not on noise.
import type { EdgeModelDeploymentSpec, Network, Power, Precision } from '@edgeplane/api';
import { capFor } from './battery.ts';
import { isLiteLink } from './link.ts';

export interface NodeTelemetry {
  power?: Power | undefined;
  network?: Network | undefined;
  ready: boolean;
}

/**
 * True when going from `before` to `after` changes the node's precision cap (with hysteresis;
 * `previousCap` is the cap its placements were made under, if any), moves its link in or out
 * of the deployment's lite-only classes, or changes its readiness.
 */
export function crossesTierBoundary(
  spec: EdgeModelDeploymentSpec,
  before: NodeTelemetry,
  after: NodeTelemetry,
  previousCap?: Precision,
): boolean {
  if (before.ready !== after.ready) return true;
  const liteOn = spec.tiering.network.liteOn;
  if (isLiteLink(liteOn, before.network) !== isLiteLink(liteOn, after.network)) return true;
  const thresholds = spec.tiering.battery;
  const inForce = previousCap ?? capFor(before.power, thresholds);
  return capFor(after.power, thresholds, inForce) !== inForce;
}
