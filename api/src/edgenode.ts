import { z } from 'zod';
import { API_VERSION, Condition, ObjectMeta } from './meta.ts';
import { Accelerator, HostInfo, Network, Power } from './hardware.ts';
import { PlacementPhase } from './edgemodeldeployment.ts';

export const EN_KIND = 'EdgeNode';
export const EN_PLURAL = 'edgenodes';

/** Condition types on an EdgeNode. */
export const NodeConditionType = { Ready: 'Ready', Reachable: 'Reachable' } as const;

export const EdgeNodeSpec = z
  .object({
    unschedulable: z
      .boolean()
      .default(false)
      .describe('Cordon: no new placements on this node; existing ones stay until their deployment moves them.'),
  })
  .describe("The operator's part of an EdgeNode. Node labels live in metadata.labels, as on a Kubernetes Node.");
export type EdgeNodeSpec = z.infer<typeof EdgeNodeSpec>;

/** Most workloads a node status lists; a node serving more lists the first ones by key. */
export const MAX_STATUS_WORKLOADS = 64;

/** How busy one accelerator was in the last heartbeat before the status write. */
export const AcceleratorUtilization = z.object({
  id: z.string().max(63).describe('Accelerator id, as in accelerators[].id.'),
  utilization: z.number().min(0).max(1).describe('Busy fraction over the last heartbeat interval, 0..1.'),
  queue: z.int().min(0).describe('Requests waiting for the accelerator.'),
});
export type AcceleratorUtilization = z.infer<typeof AcceleratorUtilization>;

/** One deployment's replica on the node as its agent last reported it. */
export const NodeWorkload = z.object({
  deployment: z.string().max(317).describe('`<namespace>/<name>` of the EdgeModelDeployment.'),
  variant: z.string().max(63).describe('Variant the agent runs.'),
  accelerator: z.string().max(63).describe('Accelerator id it runs on.'),
  phase: PlacementPhase.describe('Pending, Downloading, Loading, Ready or Failed.'),
  rps: z.number().min(0).optional().describe('Inferences per second served over the last interval.'),
  p99Ms: z.number().min(0).optional().describe('p99 latency over the last interval, milliseconds.'),
});
export type NodeWorkload = z.infer<typeof NodeWorkload>;

export const EdgeNodeStatus = z
  .object({
    agentVersion: z.string().max(64).optional().describe('Version of the edgeplane agent running on the node.'),
    host: HostInfo.optional().describe('The host beyond its accelerators: architecture, CPU, memory, OS.'),
    accelerators: z.array(Accelerator).max(64).optional().describe('Accelerators the agent discovered, the CPU included.'),
    power: Power.optional().describe('Power source and battery as last reported.'),
    network: Network.optional().describe('Uplink as last reported: link class, bandwidth, round trip.'),
    cachedArtifacts: z
      .array(z.string().max(64))
      .max(1024)
      .optional()
      .describe("sha256 digests of the model artifacts in the agent's cache."),
    acceleratorSummary: z.string().optional().describe('Accelerator types such as `GPU,CPU`, for the ACCELERATORS printer column.'),
    powerSummary: z.string().optional().describe('`mains`, or `battery 63%`, for the POWER printer column.'),
    utilization: z
      .array(AcceleratorUtilization)
      .max(64)
      .optional()
      .describe('Load per accelerator from the heartbeats; refreshed at most once a minute, like lastHeartbeatTime.'),
    workloads: z
      .array(NodeWorkload)
      .max(MAX_STATUS_WORKLOADS)
      .optional()
      .describe(`Replicas the agent serves with their phase, rate and p99; refreshed at most once a minute; at most ${MAX_STATUS_WORKLOADS}.`),
    lastHeartbeatTime: z.string().optional().describe('When the last heartbeat the control plane recorded arrived, RFC 3339.'),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .describe('Reachable: heartbeats arrive within the node monitor grace period. Ready: reachable and its accelerators are known, so placements may land here.'),
  })
  .describe('What the agent observed on the node, written by the control plane.');
export type EdgeNodeStatus = z.infer<typeof EdgeNodeStatus>;

export const EdgeNode = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(EN_KIND),
  metadata: ObjectMeta,
  spec: EdgeNodeSpec.prefault({}),
  status: EdgeNodeStatus.optional(),
});
export type EdgeNode = z.infer<typeof EdgeNode>;
