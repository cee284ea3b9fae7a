// Current placements per deployment in Redis, so a replica that takes over leadership
// continues from the same placements instead of re-planning from nothing.
import { Precision, Profile } from '@edgeplane/api';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redisKeys } from '../fleet/keys.ts';
import type { Placement } from '../placement/types.ts';

const StoredPlacement = z.object({
  deployment: z.string(),
  node: z.string(),
  accelerator: z.string(),
  variant: z.string(),
  precision: Precision,
  profile: Profile,
  cap: Precision,
  predictedP99Ms: z.number(),
  tierReason: z.string(),
  sinceMs: z.number().optional(),
});

function parse(hash: Record<string, string>): Placement[] {
  return Object.entries(hash)
    .sort(([a], [b]) => Number(a) - Number(b))
    .flatMap(([, raw]) => {
      try {
        const r = StoredPlacement.safeParse(JSON.parse(raw));
        return r.success ? [r.data] : [];
      } catch {
        return [];
      }
    });
}

export class PlacementStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async save(key: string, placements: readonly Placement[]): Promise<void> {
    const tx = this.#redis.multi().del(redisKeys.placements(key));
    if (placements.length) {
      tx.hset(redisKeys.placements(key), Object.fromEntries(placements.map((p, i) => [String(i), JSON.stringify(p)])));
      tx.sadd(redisKeys.placementKeys, key);
    } else {
      tx.srem(redisKeys.placementKeys, key);
    }
    await tx.exec();
  }

  /**
   * Rewrites the placements at these positions of a list whose length and other entries are
   * those last saved (a re-tier in place), instead of the whole list.
   */
  async saveAt(key: string, placements: readonly Placement[], positions: readonly number[]): Promise<void> {
    if (positions.length === 0) return;
    await this.#redis.hset(redisKeys.placements(key), Object.fromEntries(positions.map((i) => [String(i), JSON.stringify(placements[i])])));
  }

  async load(key: string): Promise<Placement[]> {
    return parse(await this.#redis.hgetall(redisKeys.placements(key)));
  }

  async delete(key: string): Promise<void> {
    await this.#redis.multi().del(redisKeys.placements(key)).srem(redisKeys.placementKeys, key).exec();
  }

  /** Every stored deployment's placements, in one pipeline. */
  async loadAll(): Promise<Map<string, Placement[]>> {
    const keys = await this.#redis.smembers(redisKeys.placementKeys);
    const out = new Map<string, Placement[]>();
    if (keys.length === 0) return out;
    const pipe = this.#redis.pipeline();
    for (const k of keys) pipe.hgetall(redisKeys.placements(k));
    const results = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => {
      const [err, hash] = results[i] ?? [null, null];
      if (!err && hash && typeof hash === 'object') out.set(k, parse(hash as Record<string, string>));
    });
    return out;
  }
}
