// Redis key layout, in one place.
export const redisKeys = {
  /** Hash: the node's live telemetry (telemetry.ts). */
  node: (node: string) => `ep:node:${node}`,
  /** Sorted set: node -> last heartbeat, ms since the epoch; the liveness sweep reads it. */
  lastSeen: 'ep:nodes:last-seen',
  /** Hash: a deployment's placements, field = replica index, value = Placement JSON. */
  placements: (key: string) => `ep:placements:${key}`,
  /** Set: deployment keys that have a placements hash. */
  placementKeys: 'ep:placements:index',
} as const;
