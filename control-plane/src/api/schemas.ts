// Response shapes of the read API, as zod schemas (the types) and JSON Schemas (Fastify's
// serialiser, which also keeps unlisted fields from leaking out).
import { Accelerator, Condition, EdgeModelDeploymentSpec, Network, PlacementStatus, Power, Precision } from '@edgeplane/api';
import { z } from 'zod';

export const NodeSummary = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  unschedulable: z.boolean(),
  ready: z.boolean(),
  reachable: z.boolean(),
  acceleratorSummary: z.string(),
  powerSummary: z.string(),
  accelerators: z.array(Accelerator),
  power: Power.optional(),
  network: Network.optional(),
  lastSeenMs: z.number().nullable(),
  conditions: z.array(Condition),
});
export type NodeSummary = z.infer<typeof NodeSummary>;

export const DeploymentSummary = z.object({
  namespace: z.string(),
  name: z.string(),
  generation: z.number().optional(),
  observedGeneration: z.number().optional(),
  replicas: z.number(),
  readyReplicas: z.number(),
  unplacedReplicas: z.number(),
  ready: z.string(),
  tiers: z.string(),
  conditions: z.array(Condition),
});
export type DeploymentSummary = z.infer<typeof DeploymentSummary>;

export const LiveTelemetry = z.object({
  reachable: z.boolean(),
  lastSeenMs: z.number().nullable(),
  power: Power.optional(),
  network: Network.optional(),
  utilization: z.number().optional(),
  p99Ms: z.number().optional(),
  rps: z.number().optional(),
});

export const PlacementDetail = PlacementStatus.extend({
  cap: Precision,
  tierReason: z.string(),
  predictedP99Ms: z.number(),
  telemetry: LiveTelemetry,
});
export type PlacementDetail = z.infer<typeof PlacementDetail>;

export const DeploymentDetail = DeploymentSummary.extend({
  spec: EdgeModelDeploymentSpec,
  placements: z.array(PlacementDetail),
});
export type DeploymentDetail = z.infer<typeof DeploymentDetail>;

export const ItemsOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

/** JSON Schema for Fastify from a zod schema. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}
