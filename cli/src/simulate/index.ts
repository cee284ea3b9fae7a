// The fleet simulator: public entry point.
export { startSimulation, nodeName, SITE_LABEL, PROFILE_LABEL, SIMULATED_LABEL, type Simulation, type SimulationOptions, type SimulationStats, type SimulatedNodeInfo, type AssignmentEvent, type HeartbeatEvent } from './simulation.ts';
export { runSimulate, simulateCommands, SIMULATE_USAGE } from './command.ts';
export { parseMix, assignProfiles, mixCounts, type MixEntry } from './mix.ts';
export { parseTimeline, conditionsAt, resolveTimeline, type Timeline, type TimelineEvent } from './timeline.ts';
export { PROFILES, PROFILE_NAMES, DEFAULT_MIX, type HardwareProfile, type ProfileName } from './profiles.ts';
export { SimulateError, isSimulateError, type SimulateErrorCode } from './errors.ts';
export { defaultPhaseTiming, type PhaseTimingOptions } from './phases.ts';
