export { startFleetSession, type FleetSession, type FleetSessionOptions, type FleetSessionStats } from './session.ts';
export { watchAssignment, type AssignmentWatch, type AssignmentWatchOptions, type AssignmentWatchStats } from './assignment-watch.ts';
export { connectNats } from './connect.ts';
export { checkHelloReply, isHelloReplyError, HelloReplyError, DEFAULT_STORES, type ConfiguredStores, type CheckedReply } from './hello-reply.ts';
