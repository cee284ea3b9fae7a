// Per-node history in Redis: a list of packed samples (history-pack.ts), trimmed to the last
// hour and expiring with it, so a node that left costs nothing an hour later. All nodes' samples
// of one tick go out in a single pipeline; deployment names live once in a dictionary hash.
import { HISTORY_INTERVAL_MS, HISTORY_WINDOW_MS, type HistorySample, type NodeHistory } from '@edgeplane/api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { hashHex, historyColumns, packSample, unpackSample, workloadHash, type UnpackedSample } from './history-pack.ts';

export const HISTORY_KEY_PREFIX = 'ep:dash:h:';
/** Deployment key by the hex of its workloadHash. */
export const HISTORY_NAMES_KEY = 'ep:dash:names';
/** Samples kept per node: an hour at one per interval. */
export const HISTORY_SAMPLES = HISTORY_WINDOW_MS / HISTORY_INTERVAL_MS;

export const historyKey = (node: string): string => `${HISTORY_KEY_PREFIX}${node}`;

export class HistoryStore {
  readonly #redis: Redis;
  readonly #log: Logger | undefined;
  /** Hashes this process wrote to the dictionary already. */
  readonly #named = new Set<number>();

  constructor(redis: Redis, log?: Logger) {
    this.#redis = redis;
    this.#log = log;
  }

  /** Appends one sample per node in one round trip. */
  async append(samples: ReadonlyMap<string, HistorySample>): Promise<void> {
    if (samples.size === 0) return;
    const p = this.#redis.pipeline();
    const names: string[] = [];
    for (const [node, s] of samples) {
      for (const w of s.workloads) {
        const h = workloadHash(w.deployment);
        if (this.#named.has(h)) continue;
        this.#named.add(h);
        names.push(hashHex(h), w.deployment);
      }
      const key = historyKey(node);
      p.rpush(key, packSample(s));
      p.ltrim(key, -HISTORY_SAMPLES, -1);
      // A little past the window, so the oldest sample is still there when the window reads it.
      p.pexpire(key, HISTORY_WINDOW_MS + 2 * HISTORY_INTERVAL_MS);
    }
    if (names.length > 0) p.hset(HISTORY_NAMES_KEY, ...names);
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) {
      // The dictionary may not have been written: try the names again next time.
      this.#named.clear();
      throw failed[0];
    }
  }

  /** The node's last hour, oldest first; empty columns when there is none. */
  async read(node: string, nowMs: number = Date.now()): Promise<NodeHistory> {
    const raw = await this.#redis.lrangeBuffer(historyKey(node), 0, -1);
    const samples: UnpackedSample[] = [];
    for (const b of raw) {
      try {
        samples.push(unpackSample(b));
      } catch (err) {
        this.#log?.warn({ node, err }, 'skipping a malformed history sample');
      }
    }
    const since = nowMs - HISTORY_WINDOW_MS;
    const recent = samples.filter((s) => s.t >= since);
    const hashes = [...new Set(recent.flatMap((s) => s.workloads.map((w) => w.hash)))];
    const names = new Map<number, string>();
    if (hashes.length > 0) {
      const values = await this.#redis.hmget(HISTORY_NAMES_KEY, ...hashes.map(hashHex));
      hashes.forEach((h, i) => {
        const v = values[i];
        if (v) names.set(h, v);
      });
    }
    return historyColumns(node, recent, names);
  }

  async forget(node: string): Promise<void> {
    await this.#redis.del(historyKey(node));
  }
}
