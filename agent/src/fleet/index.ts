export { startFleetSession, type FleetSession, type FleetSessionOptions, type FleetSessionStats } from './session.ts';
export { watchAssignment, type AssignmentWatch, type AssignmentWatchOptions, type AssignmentWatchStats } from './assignment-watch.ts';
export { createHeartbeatBuilder, normalize, type Telemetry, type HeartbeatBuilder } from './heartbeat.ts';
export { connectNats } from './connect.ts';
