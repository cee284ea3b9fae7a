// Redis key layout, in one place.
export const redisKeys = {
  /** Hash: the node's live telemetry (telemetry.ts). */
  node: (node: string) => `ep:node:${node}`,
  /** Sorted set: node -> last heartbeat, ms since the epoch; the liveness sweep reads it. */
  lastSeen: 'ep:nodes:last-seen',
  /** Hash: a deployment's placements, field = replica index, value = Placement JSON. */
  placements: (key: string) => `ep:placements:${key}`,
  /**
   * String: an id the leader writes once; if it is gone, Redis lost its data (flush, restart
   * without persistence) and every record in it is unknown, not stale.
   */
  telemetryEpoch: 'ep:telemetry:epoch',
  /** Set: deployment keys that have a placements hash. */
  placementKeys: 'ep:placements:index',
} as const;
