// EdgeNode status from what agents report. Pure: the writer decides when to send it.
import { MAX_STATUS_WORKLOADS, NodeConditionType, type Accelerator, type Condition, type EdgeNodeStatus, type HostInfo, type NodeWorkload, type Power, type WorkloadReport } from '@edgeplane/api';
import type { NodeTelemetry } from './telemetry.ts';

/** Battery classes the node status tracks; crossing one is a meaningful change. */
export const BATTERY_CLASS_EDGES = [20, 50] as const;

/** At most this often a status write goes out for changes that are not meaningful. */
export const NODE_STATUS_REFRESH_MS = 60_000;

/**
 * Status writes a second the fleet's refreshes may take in all. Each one is a replace of the
 * whole EdgeNode and comes back through the informer's watch: at 1,000 nodes a refresh a
 * minute each was most of the control plane's CPU while the fleet idled.
 */
export const NODE_STATUS_REFRESHES_PER_SEC = 4;

/**
 * How often a node's status is refreshed for drift (battery within its class, utilization, the
 * heartbeat time): once a minute, or less often for a fleet large enough that the refreshes of
 * all its nodes would go past NODE_STATUS_REFRESHES_PER_SEC. Meaningful changes go out at once.
 */
export function nodeStatusRefreshMs(nodes: number): number {
  return Math.max(NODE_STATUS_REFRESH_MS, Math.ceil((nodes * 1000) / NODE_STATUS_REFRESHES_PER_SEC));
}

export interface Capability {
  agentVersion: string;
  host: HostInfo;
  accelerators: Accelerator[];
}

export function acceleratorSummary(accelerators: readonly Accelerator[] | undefined): string {
  return [...new Set((accelerators ?? []).map((a) => a.type))].join(',');
}

export function powerSummary(power: Power | undefined): string {
  if (!power) return '';
  if (power.source === 'mains' || power.batteryPercent === undefined) return power.source;
  return `${power.source} ${Math.round(power.batteryPercent)}%${power.charging ? ' charging' : ''}`;
}

/** `mains`, or the battery class: `<20`, `<50`, `>=50`. */
export function batteryClass(power: Power | undefined): string {
  if (!power || power.source === 'mains' || power.batteryPercent === undefined) return power?.source ?? 'unknown';
  const edge = BATTERY_CLASS_EDGES.find((e) => power.batteryPercent! < e);
  return `${power.source}${power.charging ? '+charging' : ''}:${edge === undefined ? `>=${BATTERY_CLASS_EDGES.at(-1)}` : `<${edge}`}`;
}

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message?: string;
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(conditions: readonly Condition[] | undefined, c: ConditionInput, now: Date, observedGeneration?: number): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message ?? '',
    lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export interface NodeStatusInput {
  capability?: Capability | undefined;
  telemetry?: NodeTelemetry | null | undefined;
  reachable: boolean;
  now: Date;
}

/** What `kubectl edgeplane top nodes` shows of each workload: its key, tier, phase, rate and p99. */
function nodeWorkloads(reports: readonly WorkloadReport[]): NodeWorkload[] {
  return [...reports]
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
    .slice(0, MAX_STATUS_WORKLOADS)
    .map((w) => ({
      deployment: w.key,
      variant: w.variant,
      accelerator: w.accelerator,
      phase: w.phase,
      ...(w.rps !== undefined ? { rps: w.rps } : {}),
      ...(w.p99Ms !== undefined ? { p99Ms: w.p99Ms } : {}),
    }));
}

/** The EdgeNode status for what is known now, starting from the current one. */
export function buildNodeStatus(prev: EdgeNodeStatus | undefined, input: NodeStatusInput): EdgeNodeStatus {
  const { capability, telemetry, reachable, now } = input;
  const accelerators = capability?.accelerators ?? prev?.accelerators;
  const power = telemetry?.power ?? prev?.power;
  const network = telemetry?.network ?? prev?.network;
  const ready = reachable && !!accelerators?.length;
  let conditions = setCondition(
    prev?.conditions,
    reachable
      ? { type: NodeConditionType.Reachable, status: 'True', reason: 'HeartbeatsArriving', message: 'the agent heartbeats on time' }
      : { type: NodeConditionType.Reachable, status: 'False', reason: 'HeartbeatsMissed', message: 'no heartbeat for the node monitor grace period' },
    now,
  );
  conditions = setCondition(
    conditions,
    ready
      ? { type: NodeConditionType.Ready, status: 'True', reason: 'AgentReady', message: 'the agent is reachable and reported its accelerators' }
      : {
          type: NodeConditionType.Ready,
          status: 'False',
          reason: reachable ? 'NoAccelerators' : 'NodeUnreachable',
          message: reachable ? 'the agent reported no accelerators' : 'the agent stopped heartbeating',
        },
    now,
  );
  const status: EdgeNodeStatus = {
    ...prev,
    agentVersion: capability?.agentVersion ?? prev?.agentVersion,
    host: capability?.host ?? prev?.host,
    accelerators,
    power,
    network,
    cachedArtifacts: telemetry?.cachedArtifacts ?? prev?.cachedArtifacts,
    utilization: telemetry?.load ? telemetry.load.map((l) => ({ id: l.id, utilization: Math.round(l.util * 100) / 100, queue: l.queue })) : prev?.utilization,
    workloads: telemetry?.workloads ? nodeWorkloads(telemetry.workloads) : prev?.workloads,
    acceleratorSummary: acceleratorSummary(accelerators),
    powerSummary: powerSummary(power),
    lastHeartbeatTime: telemetry ? new Date(telemetry.lastSeenMs).toISOString().replace(/\.\d{3}Z$/, 'Z') : prev?.lastHeartbeatTime,
    conditions,
  };
  for (const k of Object.keys(status) as (keyof EdgeNodeStatus)[]) if (status[k] === undefined) delete status[k];
  return status;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const conditionStates = (s: EdgeNodeStatus | undefined) =>
  (s?.conditions ?? [])
    .map((c) => `${c.type}=${c.status}`)
    .sort()
    .join(',');

/**
 * A change worth a status write now: a condition, a capability, the battery class, the
 * power source or the link type. Battery percent drifting within a class is not, and neither
 * are the cached artifacts: placement reads them from telemetry, and a deployment rolling out
 * changes them on every node at once, which made a status write per node in a burst.
 */
export function isMeaningfulChange(prev: EdgeNodeStatus | undefined, next: EdgeNodeStatus): boolean {
  if (!prev) return true;
  return (
    conditionStates(prev) !== conditionStates(next) ||
    !same(prev.accelerators, next.accelerators) ||
    !same(prev.host, next.host) ||
    prev.agentVersion !== next.agentVersion ||
    batteryClass(prev.power) !== batteryClass(next.power) ||
    prev.network?.type !== next.network?.type
  );
}

/** Whether anything at all differs, the heartbeat time aside. */
export function isAnyChange(prev: EdgeNodeStatus | undefined, next: EdgeNodeStatus): boolean {
  const strip = (s: EdgeNodeStatus | undefined) => ({ ...s, lastHeartbeatTime: undefined });
  return !same(strip(prev), strip(next));
}

/** Meaningful changes go out at once; drift and the heartbeat time at most once per `refreshMs`. */
export function shouldWriteNodeStatus(prev: EdgeNodeStatus | undefined, next: EdgeNodeStatus, lastWriteMs: number | undefined, nowMs: number, refreshMs: number = NODE_STATUS_REFRESH_MS): boolean {
  if (isMeaningfulChange(prev, next)) return true;
  const due = lastWriteMs === undefined || nowMs - lastWriteMs >= refreshMs;
  return due && (isAnyChange(prev, next) || prev?.lastHeartbeatTime !== next.lastHeartbeatTime);
}
