// Public entry point of @edgeplane/agent: what tests, the simulator's comparisons and
// `make up` use to run an agent in-process. The command itself is cli.ts.
export { startAgent, type AgentDeps, type RunningAgent } from './main.ts';
export { parseConfig, type AgentConfig } from './config.ts';
export { AGENT_VERSION } from './version.ts';
export { discover, type Discovery, type DiscoverOptions } from './hardware/index.ts';
export type { WorkloadManager, WorkloadManagerOptions } from './workloads/types.ts';
