import { z } from 'zod';
import { API_VERSION, Condition, ObjectMeta } from './meta.ts';
import { Accelerator, HostInfo, Network, Power } from './hardware.ts';

export const EN_KIND = 'EdgeNode';
export const EN_PLURAL = 'edgenodes';

/** Condition types on an EdgeNode. */
export const NodeConditionType = { Ready: 'Ready', Reachable: 'Reachable' } as const;

/** The operator's part: node labels live in metadata.labels, as on a Kubernetes Node. */
export const EdgeNodeSpec = z.object({
  /** Cordon: no new placements; existing ones stay until the deployment moves them. */
  unschedulable: z.boolean().default(false),
});
export type EdgeNodeSpec = z.infer<typeof EdgeNodeSpec>;

/** Observed by the agent, written by the control plane. */
export const EdgeNodeStatus = z.object({
  agentVersion: z.string().max(64).optional(),
  host: HostInfo.optional(),
  accelerators: z.array(Accelerator).max(64).optional(),
  power: Power.optional(),
  network: Network.optional(),
  /** sha256 digests of artifacts in the agent's cache. */
  cachedArtifacts: z.array(z.string().max(64)).max(1024).optional(),
  /** Accelerator types such as `GPU,CPU`, for the ACCELERATORS printer column. */
  acceleratorSummary: z.string().optional(),
  /** `mains`, or `battery 63%`, for the POWER printer column. */
  powerSummary: z.string().optional(),
  lastHeartbeatTime: z.string().optional(),
  conditions: z
    .array(Condition)
    .max(16)
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
});
export type EdgeNodeStatus = z.infer<typeof EdgeNodeStatus>;

export const EdgeNode = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(EN_KIND),
  metadata: ObjectMeta,
  spec: EdgeNodeSpec.prefault({}),
  status: EdgeNodeStatus.optional(),
});
export type EdgeNode = z.infer<typeof EdgeNode>;
