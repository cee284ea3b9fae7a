export type { WorkloadManager, WorkloadManagerOptions } from './types.ts';
export { createWorkloadManager, type ManagerOptions, type WorkloadManagerImpl } from './manager.ts';
export { Workload, needsReload, type WorkloadEvent, type InferOptions } from './workload.ts';
export { reasonOf, isTerminalReason, REASONS } from './reasons.ts';
export * from './errors.ts';
