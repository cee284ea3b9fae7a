// Public entry point of the placement engine: the contract, the planner, and the pure helpers
// the reconciler needs to decide when a heartbeat is worth a reconcile.
export * from './types.ts';
export { planDeployment, planDeploymentReference } from './plan.ts';
export { batteryCap, capFor, allowedUnder, precisionRank } from './battery.ts';
export type { BatteryThresholds } from './battery.ts';
export { crossesTierBoundary } from './boundary.ts';
export type { NodeTelemetry } from './boundary.ts';
export { isLiteLink, canFetch, fetchSeconds } from './link.ts';
export { predictP99Ms, supports } from './predict.ts';
export { matchesSelector } from './labels.ts';
export { PlacementErrorCode, PlacementInputError, isPlacementInputError } from './errors.ts';
export { filterPlugins } from './filters.ts';
export { scorePlugins, WEIGHTS } from './score.ts';
export type { FilterPlugin, ScorePlugin, Status } from './framework.ts';
export { explainPlacement, type NodeVerdict, type PlacementExplanation } from './explain.ts';
