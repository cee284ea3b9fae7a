import { z } from 'zod';
import { API_VERSION, Condition, ObjectMeta } from './meta.ts';
import { Accelerator, HostInfo, Network, Power } from './hardware.ts';

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
