import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from './config.ts';
import { isConfigError } from './errors.ts';

/** What every secure start needs for NATS; the rows below vary one other setting at a time. */
const NATS = { EP_NATS_CREDS: '/etc/edgeplane/control-plane.creds', EP_NATS_CA: '/etc/edgeplane/ca.pem' };

function config(argv: string[] = [], env: Record<string, string> = {}, base: Record<string, string> = NATS): Config {
  const r = parseConfig({ argv, env: { ...base, ...env } });
  if (r.help) throw new Error('unexpected help');
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

describe('parseConfig', () => {
  it('applies defaults', () => {
    const c = config();
    expect(c.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(c.namespaces).toEqual([]);
    expect(c.apiAddr).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.kube).toEqual({ source: 'default' });
    expect(c.identity).toMatch(/.+-[0-9a-f]{8}$/);
    // Authentication is on unless turned off in so many words.
    expect(c.insecureNoAuth).toBe(false);
    expect(c.metricsAuth).toBe('rbac');
  });

  // `bare`: without the NATS credentials and CA every other row starts from.
  const rows: { name: string; argv?: string[]; env?: Record<string, string>; bare?: true; want: Partial<Config> }[] = [
    { name: 'env', env: { EP_NATS_URL: 'nats://h:1', EP_HEARTBEAT_INTERVAL_MS: '200' }, want: { natsUrl: 'nats://h:1', heartbeatIntervalMs: 200 } },
    { name: 'flag beats env', argv: ['--redis-url', 'redis://b:2'], env: { EP_REDIS_URL: 'redis://a:1' }, want: { redisUrl: 'redis://b:2' } },
    { name: 'namespace list', env: { EP_NAMESPACES: ' a, b ,,c' }, want: { namespaces: ['a', 'b', 'c'] } },
    { name: 'ipv6 address', argv: ['--api-addr', '[::1]:0'], want: { apiAddr: { host: '::1', port: 0 } } },
    { name: 'kubeconfig file', env: { EP_KUBECONFIG: '/k' }, want: { kube: { source: 'file', path: '/k' } } },
    { name: 'TLS NATS needs no CA setting', bare: true, env: { EP_NATS_CREDS: '/c.creds', EP_NATS_URL: 'tls://h:4222' }, want: { natsUrl: 'tls://h:4222' } },
    { name: 'a lab without NATS security, explicitly', bare: true, argv: ['--insecure-nats'], want: { insecureNats: true } },
    { name: 'auth off by flag', argv: ['--insecure-no-auth', '--api-addr', '127.0.0.1:8080'], want: { insecureNoAuth: true } },
    { name: 'auth off by env', env: { EP_INSECURE_NO_AUTH: 'true', EP_API_ADDR: '127.0.0.1:8080' }, want: { insecureNoAuth: true } },
    { name: 'auth on by env', env: { EP_INSECURE_NO_AUTH: 'false' }, want: { insecureNoAuth: false } },
    { name: 'open metrics', argv: ['--metrics-auth', 'none'], want: { metricsAuth: 'none' } },
    { name: 'in-cluster', env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, want: { kube: { source: 'in-cluster' } } },
    {
      name: 'lease timings',
      argv: ['--lease-duration-ms', '2000', '--renew-deadline-ms', '1500', '--retry-period-ms', '300'],
      want: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 },
    },
    { name: 'node lifecycle defaults', want: { nodeMonitorGracePeriodMs: 40_000, evictionDelayMs: 300_000, fullDisruptionFraction: 0.55, fullDisruptionMinNodes: 3 } },
    {
      name: 'node lifecycle timings',
      argv: ['--heartbeat-interval-ms', '200', '--node-monitor-grace-period-ms', '1000', '--eviction-delay-ms', '0', '--full-disruption-fraction', '0.6', '--full-disruption-min-nodes', '5'],
      want: { nodeMonitorGracePeriodMs: 1000, evictionDelayMs: 0, fullDisruptionFraction: 0.6, fullDisruptionMinNodes: 5 },
    },
    { name: 'fleet bounds defaults', want: { helloMaxInFlight: 512, helloPerNodeIntervalMs: 10_000, maxNodes: 50_000, nodeGcAfterMs: 7 * 86_400_000 } },
    {
      name: 'fleet bounds',
      argv: ['--hello-max-in-flight', '8', '--hello-per-node-interval-ms', '500', '--max-nodes', '100'],
      env: { EP_NODE_GC_AFTER_MS: '30000000000' },
      want: { helloMaxInFlight: 8, helloPerNodeIntervalMs: 500, maxNodes: 100, nodeGcAfterMs: 30_000_000_000 },
    },
    { name: 'one KV copy by default', want: { kvReplicas: 1 } },
    { name: 'KV replicas by flag', argv: ['--kv-replicas', '3'], want: { kvReplicas: 3 } },
    { name: 'KV replicas by env', env: { EP_KV_REPLICAS: '5' }, want: { kvReplicas: 5 } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(config(row.argv, row.env, row.bare ? {} : NATS)).toMatchObject(row.want);
    });
  }

  const bad: { name: string; argv?: string[]; env?: Record<string, string>; bare?: true; setting: string }[] = [
    { name: 'bad nats scheme', env: { EP_NATS_URL: 'http://x' }, setting: 'EP_NATS_URL (--nats-url)' },
    { name: 'bad redis url', argv: ['--redis-url', 'nope'], setting: 'EP_REDIS_URL (--redis-url)' },
    { name: 'non-numeric interval', env: { EP_HEARTBEAT_INTERVAL_MS: 'fast' }, setting: 'EP_HEARTBEAT_INTERVAL_MS (--heartbeat-interval-ms)' },
    { name: 'too short interval', env: { EP_HEARTBEAT_INTERVAL_MS: '5' }, setting: 'EP_HEARTBEAT_INTERVAL_MS (--heartbeat-interval-ms)' },
    { name: 'address without port', env: { EP_API_ADDR: 'localhost' }, setting: 'EP_API_ADDR (--api-addr)' },
    { name: 'port out of range', env: { EP_API_ADDR: ':70000' }, setting: 'EP_API_ADDR (--api-addr)' },
    { name: 'bad log level', env: { EP_LOG_LEVEL: 'loud' }, setting: 'EP_LOG_LEVEL (--log-level)' },
    { name: 'bad namespace', env: { EP_NAMESPACES: 'ok,Not_OK' }, setting: 'EP_NAMESPACES (--namespaces)' },
    { name: 'renew >= lease', argv: ['--lease-duration-ms', '2000', '--renew-deadline-ms', '2000'], setting: 'EP_RENEW_DEADLINE_MS (--renew-deadline-ms)' },
    {
      name: 'retry >= renew',
      argv: ['--lease-duration-ms', '2000', '--renew-deadline-ms', '1000', '--retry-period-ms', '1000'],
      setting: 'EP_RETRY_PERIOD_MS (--retry-period-ms)',
    },
    { name: 'grace period under two heartbeats', env: { EP_HEARTBEAT_INTERVAL_MS: '5000', EP_NODE_MONITOR_GRACE_PERIOD_MS: '9999' }, setting: 'EP_NODE_MONITOR_GRACE_PERIOD_MS (--node-monitor-grace-period-ms)' },
    { name: 'disruption fraction of zero', argv: ['--full-disruption-fraction', '0'], setting: 'EP_FULL_DISRUPTION_FRACTION (--full-disruption-fraction)' },
    { name: 'disruption fraction over one', argv: ['--full-disruption-fraction', '1.5'], setting: 'EP_FULL_DISRUPTION_FRACTION (--full-disruption-fraction)' },
    { name: 'negative eviction delay', env: { EP_EVICTION_DELAY_MS: '-1' }, setting: 'EP_EVICTION_DELAY_MS (--eviction-delay-ms)' },
    { name: 'no hello at a time', argv: ['--hello-max-in-flight', '0'], setting: 'EP_HELLO_MAX_IN_FLIGHT (--hello-max-in-flight)' },
    { name: 'a fleet of no nodes', env: { EP_MAX_NODES: '0' }, setting: 'EP_MAX_NODES (--max-nodes)' },
    { name: 'GC within a second', env: { EP_NODE_GC_AFTER_MS: '999' }, setting: 'EP_NODE_GC_AFTER_MS (--node-gc-after-ms)' },
    { name: 'GC after more than a year', argv: ['--node-gc-after-ms', String(366 * 86_400_000)], setting: 'EP_NODE_GC_AFTER_MS (--node-gc-after-ms)' },
    { name: 'no KV copy', argv: ['--kv-replicas', '0'], setting: 'EP_KV_REPLICAS (--kv-replicas)' },
    { name: 'more KV copies than JetStream keeps', env: { EP_KV_REPLICAS: '6' }, setting: 'EP_KV_REPLICAS (--kv-replicas)' },
    { name: 'fractional KV copies', argv: ['--kv-replicas', '2.5'], setting: 'EP_KV_REPLICAS (--kv-replicas)' },
    { name: 'KV copies not a number', env: { EP_KV_REPLICAS: 'three' }, setting: 'EP_KV_REPLICAS (--kv-replicas)' },
    { name: 'unknown flag', argv: ['--nats'], setting: 'flags' },
    { name: 'NATS without credentials', bare: true, env: { EP_NATS_CA: '/ca.pem' }, setting: 'EP_NATS_CREDS (--nats-creds)' },
    { name: 'plain NATS without a CA', bare: true, env: { EP_NATS_CREDS: '/c.creds', EP_NATS_URL: 'nats://h:4222' }, setting: 'EP_NATS_URL (--nats-url)' },
    { name: 'auth off on every address', argv: ['--insecure-no-auth'], setting: 'EP_API_ADDR (--api-addr)' },
    { name: 'auth switch not a boolean', env: { EP_INSECURE_NO_AUTH: 'maybe' }, setting: 'EP_INSECURE_NO_AUTH (--insecure-no-auth)' },
    { name: 'auth switch given a value', argv: ['--insecure-no-auth=yes'], setting: 'flags' },
    { name: 'bad metrics auth', env: { EP_METRICS_AUTH: 'token' }, setting: 'EP_METRICS_AUTH (--metrics-auth)' },
  ];
  for (const row of bad) {
    it(`rejects ${row.name}`, () => {
      const env = row.bare ? (row.env ?? {}) : { ...NATS, ...row.env };
      expect(settingOf(() => parseConfig({ argv: row.argv ?? [], env }))).toBe(row.setting);
    });
  }

  it('says what is wrong with a KV replica count, naming the flag', () => {
    expect(() => config(['--kv-replicas', '7'])).toThrow(/EP_KV_REPLICAS \(--kv-replicas\): must be at most 5/);
  });

  it('answers --help with every flag', () => {
    const r = parseConfig({ argv: ['--help'] });
    expect(r.help).toBe(true);
    if (r.help) expect(r.text).toContain('--lease-duration-ms');
  });
});
