// Node telemetry in Redis: one hash per node plus a sorted set of last-seen times.
import type { Redis } from 'ioredis';
import { redisKeys } from './keys.ts';
import { parseTelemetry, TELEMETRY_FIELDS, TelemetryField, type NodeTelemetry } from './telemetry.ts';

export interface TelemetryWrite {
  node: string;
  fields: Record<string, string>;
  lastSeenMs: number;
  /** Read the node's stored `seq` just before this write (heartbeat gap detection). */
  readPrevSeq?: boolean;
}

export class TelemetryStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Writes many nodes' updates in one pipeline: one round trip for the whole batch. Returns, per
   * write, the `seq` stored before it when `readPrevSeq` asked for it (null when the node had
   * none), else undefined. The read and the write are adjacent commands of one pipeline on one
   * connection, and a node's heartbeats are an interval apart, so nothing lands between them.
   */
  async write(batch: readonly TelemetryWrite[]): Promise<(number | null | undefined)[]> {
    if (batch.length === 0) return [];
    const pipe = this.#redis.pipeline();
    const zargs: (string | number)[] = [];
    /** Result index of each write's seq read, or -1. */
    const reads: number[] = [];
    let index = 0;
    for (const w of batch) {
      if (w.readPrevSeq) {
        pipe.hget(redisKeys.node(w.node), TelemetryField.seq);
        reads.push(index++);
      } else reads.push(-1);
      pipe.hset(redisKeys.node(w.node), w.fields);
      index++;
      zargs.push(w.lastSeenMs, w.node);
    }
    pipe.zadd(redisKeys.lastSeen, ...zargs);
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    return reads.map((i) => {
      if (i < 0) return undefined;
      const raw = results?.[i]?.[1];
      if (typeof raw !== 'string') return null;
      const seq = Number(raw);
      return Number.isSafeInteger(seq) ? seq : null;
    });
  }

  async read(node: string): Promise<NodeTelemetry | null> {
    return parseTelemetry(await this.#redis.hgetall(redisKeys.node(node)));
  }

  /** Telemetry of many nodes in one pipeline; absent nodes are left out. */
  async readMany(nodes: readonly string[]): Promise<Map<string, NodeTelemetry>> {
    const out = new Map<string, NodeTelemetry>();
    if (nodes.length === 0) return out;
    const pipe = this.#redis.pipeline();
    for (const n of nodes) pipe.hmget(redisKeys.node(n), ...TELEMETRY_FIELDS);
    const results = (await pipe.exec()) ?? [];
    nodes.forEach((n, i) => {
      const [err, values] = results[i] ?? [null, null];
      if (err || !Array.isArray(values)) return;
      const hash = Object.fromEntries(TELEMETRY_FIELDS.map((f, j) => [f, (values[j] as string | null) ?? undefined]));
      const t = parseTelemetry(hash);
      if (t) out.set(n, t);
    });
    return out;
  }

  /** Nodes whose last heartbeat is at or before cutoffMs. */
  staleSince(cutoffMs: number): Promise<string[]> {
    return this.#redis.zrangebyscore(redisKeys.lastSeen, '-inf', cutoffMs);
  }

  /** Last heartbeat per node, ms; null for a node never seen. */
  async lastSeen(nodes: readonly string[]): Promise<(number | null)[]> {
    if (nodes.length === 0) return [];
    const scores = await this.#redis.zmscore(redisKeys.lastSeen, ...nodes);
    return scores.map((s) => (s === null ? null : Number(s)));
  }

  /**
   * The data epoch: the id stored in Redis, written as `candidate` when absent. A different id
   * than the caller last saw, or `created`, means Redis lost what it held.
   */
  async epoch(candidate: string): Promise<{ id: string; created: boolean }> {
    const results = (await this.#redis.pipeline().set(redisKeys.telemetryEpoch, candidate, 'NX').get(redisKeys.telemetryEpoch).exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    const [[, set] = [null, null], [, id] = [null, null]] = results;
    return { id: typeof id === 'string' ? id : candidate, created: set === 'OK' };
  }

  async forget(node: string): Promise<void> {
    await this.#redis.multi().del(redisKeys.node(node)).zrem(redisKeys.lastSeen, node).exec();
  }
}

export { TelemetryField };
