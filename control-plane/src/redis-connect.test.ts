// Redis settings: one server by URL, or Sentinel (sentinels plus a master name, both or neither).
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from './config.ts';
import { isConfigError } from './errors.ts';
import { redisTarget } from './redis-connect.ts';

const secure = { EP_NATS_URL: 'tls://nats:4222', EP_NATS_CREDS: '/creds' };

function parse(argv: string[], env: Record<string, string> = {}): Config {
  const r = parseConfig({ argv, env: { ...secure, ...env } });
  if (r.help) throw new Error('help');
  return r.config;
}

function settingOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isConfigError(err)) return err.setting;
    throw err;
  }
  throw new Error('no error thrown');
}

describe('Redis Sentinel settings', () => {
  const rows: { name: string; argv?: string[]; env?: Record<string, string>; want: Partial<Config> }[] = [
    {
      name: 'sentinels and master by flag',
      argv: ['--redis-sentinels', 'a:26379, b:26380', '--redis-master-name', 'edgeplane'],
      want: { redisSentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26380 }], redisMasterName: 'edgeplane' },
    },
    {
      name: 'by environment, IPv6 in brackets',
      env: { EP_REDIS_SENTINELS: '[::1]:26379,10.0.0.2:26379', EP_REDIS_MASTER_NAME: 'mymaster' },
      want: { redisSentinels: [{ host: '::1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], redisMasterName: 'mymaster' },
    },
  ];
  it.each(rows)('$name', ({ argv = [], env = {}, want }) => {
    expect(parse(argv, env)).toMatchObject(want);
  });

  it('has no sentinels by default, nor when the variable is empty', () => {
    expect(parse([]).redisSentinels).toBeUndefined();
    expect(parse([], { EP_REDIS_SENTINELS: '' }).redisSentinels).toBeUndefined();
  });

  const bad: { name: string; argv?: string[]; env?: Record<string, string>; setting: string }[] = [
    { name: 'no port', argv: ['--redis-sentinels', 'a', '--redis-master-name', 'm'], setting: 'EP_REDIS_SENTINELS (--redis-sentinels)' },
    { name: 'port out of range', argv: ['--redis-sentinels', 'a:70000', '--redis-master-name', 'm'], setting: 'EP_REDIS_SENTINELS (--redis-sentinels)' },
    { name: 'sentinels without a master name', argv: ['--redis-sentinels', 'a:26379'], setting: 'EP_REDIS_MASTER_NAME (--redis-master-name)' },
    { name: 'master name without sentinels', env: { EP_REDIS_MASTER_NAME: 'm' }, setting: 'EP_REDIS_SENTINELS (--redis-sentinels)' },
    { name: 'bad master name', argv: ['--redis-sentinels', 'a:1', '--redis-master-name', 'has space'], setting: 'EP_REDIS_MASTER_NAME (--redis-master-name)' },
  ];
  it.each(bad)('refuses $name, naming the setting', ({ argv = [], env = {}, setting }) => {
    expect(settingOf(() => parse(argv, env))).toBe(setting);
  });
});

describe('redisTarget', () => {
  const base = { lazyConnect: true };

  it('connects to one server by URL without sentinels', () => {
    const t = redisTarget({ redisUrl: 'redis://:pw@r:6379' }, base);
    expect(t.url).toBe('redis://:pw@r:6379');
    expect(t.options).toEqual(base);
    expect(t.describe).toBe('redis://r:6379');
  });

  it('asks the sentinels for the primary, with the URL credentials and database', () => {
    const t = redisTarget({ redisUrl: 'redis://user:p%40ss@ignored:1/2', redisSentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], redisMasterName: 'ep' }, base);
    expect(t.url).toBeNull();
    expect(t.options).toMatchObject({ lazyConnect: true, sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], name: 'ep', username: 'user', password: 'p@ss', db: 2, failoverDetector: true });
    expect(t.options.tls).toBeUndefined();
    expect(t.describe).toBe('sentinels s1:26379,[::1]:26380 (master ep)');
    expect(t.describe).not.toContain('p@ss');
  });

  it('uses TLS to the primary and the sentinels for rediss://', () => {
    const t = redisTarget({ redisUrl: 'rediss://x', redisSentinels: [{ host: 's', port: 1 }], redisMasterName: 'ep' }, base, 'CA');
    expect(t.options).toMatchObject({ tls: { ca: 'CA' }, sentinelTLS: { ca: 'CA' }, enableTLSForSentinelMode: true });
  });
});
