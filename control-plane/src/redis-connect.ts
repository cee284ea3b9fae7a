// How the control plane reaches Redis: one server by URL, or the primary that Redis Sentinel
// names, found again by ioredis after a failover.
import type { RedisOptions } from 'ioredis';
import type { Config } from './config.ts';

export interface RedisTarget {
  /** A URL for ioredis to parse (one server), or null when `options` say everything (Sentinel). */
  url: string | null;
  options: RedisOptions;
  /** What to name in logs and errors; no credentials. */
  describe: string;
}

type RedisSettings = Pick<Config, 'redisUrl' | 'redisSentinels' | 'redisMasterName'>;

/**
 * ioredis options for the configured Redis. Under Sentinel the URL's host is ignored and its
 * scheme (TLS), credentials and database apply to the primary; TLS also covers the sentinels.
 */
export function redisTarget(c: RedisSettings, base: RedisOptions, caPem?: string): RedisTarget {
  const url = new URL(c.redisUrl);
  const tls = url.protocol === 'rediss:';
  const tlsOptions = caPem ? { ca: caPem } : {};
  if (!c.redisSentinels || !c.redisMasterName) {
    return { url: c.redisUrl, options: { ...base, ...(caPem ? { tls: tlsOptions } : {}) }, describe: `${url.protocol}//${url.host}` };
  }
  const db = Number(url.pathname.slice(1) || '0');
  return {
    url: null,
    options: {
      ...base,
      sentinels: c.redisSentinels.map((s) => ({ host: s.host, port: s.port })),
      name: c.redisMasterName,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(Number.isInteger(db) && db > 0 ? { db } : {}),
      ...(tls ? { tls: tlsOptions, sentinelTLS: tlsOptions, enableTLSForSentinelMode: true } : {}),
      // Reconnect as soon as the sentinels announce a new primary, not only once the old one's
      // connection breaks (a primary cut off by a partition may keep its socket open for long).
      failoverDetector: true,
    },
    describe: `sentinels ${c.redisSentinels.map((s) => (s.host.includes(':') ? `[${s.host}]` : s.host) + `:${s.port}`).join(',')} (master ${c.redisMasterName})`,
  };
}
