// Public entry point of @edgeplane/control-plane.
export { startControlPlane, internalSubjects, type ControlPlane, type StartOptions } from './control-plane.ts';
export { parseConfig, usage, SETTINGS, type Config, type KubeSource, type LogLevel } from './config.ts';
export type { ListenAddress } from '@edgeplane/api';
export { ConfigError, isConfigError, WriteConflictError, isWriteConflictError, AssignmentConflictError, isAssignmentConflictError, NotLeaderError, isNotLeaderError } from './errors.ts';
export { build, type BuildOptions, type Readiness } from './api/app.ts';
export type { DeploymentDetail, DeploymentSummary, NodeSummary, PlacementDetail } from './api/schemas.ts';
export { API_ERRORS, ApiError, isApiError, type ApiErrorCode } from './api/errors.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export { HeartbeatIngestor } from './fleet/heartbeats.ts';
export { TelemetryStore } from './fleet/telemetry-store.ts';
export { MalformedReporter } from './fleet/malformed.ts';
export { redisKeys } from './fleet/keys.ts';
export { WorkQueue, type Reconciler, type ReconcileResult } from './reconcile/queue.ts';
