// Configuration: flags and environment parsed once, at start, into a typed object. Nothing
// else in the control plane reads process.env.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { HELLO_REPLY_BOUNDS, ListenAddressText, durationText, type ListenAddress } from '@edgeplane/api';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Who may read /metrics: callers with `get` on the non-resource URL (`rbac`), or anyone (`none`). */
export const METRICS_AUTH = ['rbac', 'none'] as const;
export type MetricsAuth = (typeof METRICS_AUTH)[number];

/** A Redis Sentinel to ask for the current primary. */
export interface RedisSentinelAddress {
  host: string;
  port: number;
}

/** Where the Kubernetes credentials come from. */
export type KubeSource =
  | { source: 'file'; path: string }
  | { source: 'in-cluster' }
  /** KUBECONFIG, then ~/.kube/config, as kubectl does. */
  | { source: 'default' };

export interface Config {
  natsUrl: string;
  /** NATS credentials file (user JWT + nkey seed) of the control plane. */
  natsCreds?: string;
  /** CA (PEM file) that signed the NATS server's certificate; absent: the system's CAs. */
  natsCa?: string;
  /**
   * Plain NATS without TLS or credentials, for a lab only: refused unless set, and logged
   * loudly when it is.
   */
  insecureNats: boolean;
  /**
   * The fleet's trust material (JSON, from `edgeplane certs`). Absent: enrolment, renewal and
   * revocation are off.
   */
  trustFile?: string;
  /** Namespace of the bootstrap token Secrets; absent: the lease namespace. */
  bootstrapNamespace?: string;
  /** Lifetime of the node credentials the leader signs, ms; absent: 24 h. */
  nodeCredentialTtlMs?: number;
  redisUrl: string;
  /** CA (PEM file) of a Redis served over TLS (`rediss://`); absent: the system's CAs. */
  redisCa?: string;
  /**
   * Redis behind Sentinel: the sentinels to ask for the primary. The URL's host is then
   * ignored; its scheme (TLS), credentials and database still apply.
   */
  redisSentinels?: RedisSentinelAddress[];
  /** The master group name the sentinels monitor; required with sentinels. */
  redisMasterName?: string;
  kube: KubeSource;
  /** Namespaces whose EdgeModelDeployments are reconciled; empty means all. */
  namespaces: string[];
  /** Label selector over EdgeNodes this control plane manages; empty means all. */
  nodeSelector: string;
  leaseName: string;
  leaseNamespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  heartbeatIntervalMs: number;
  /** A node silent this long is NotReady, ms (Kubernetes' nodeMonitorGracePeriod). */
  nodeMonitorGracePeriodMs: number;
  /** A NotReady node's replicas are placed elsewhere after this long, ms. */
  evictionDelayMs: number;
  /** This fraction of the fleet or of a site NotReady at once is a full disruption: nothing there is evicted. */
  fullDisruptionFraction: number;
  /** The fleet or a site with fewer nodes is never in full disruption. */
  fullDisruptionMinNodes: number;
  apiAddr: ListenAddress;
  logLevel: LogLevel;
  /** Holder identity in the Lease; unique per process. */
  identity: string;
  /** Every deployment is reconciled again this often even without events. */
  resyncMs: number;
  /** A variant that failed on a node is not placed there again for this long, ms; absent: 10 s. */
  failureBackoffInitialMs?: number;
  /** The wait doubles per failure in a row up to this, ms; absent: 5 min. */
  failureBackoffMaxMs?: number;
  /** Concurrent reconciles (never two on one deployment). */
  workers: number;
  /** Serve the HTTP API without authentication or authorization; never the default. */
  insecureNoAuth: boolean;
  metricsAuth: MetricsAuth;
  /** Hellos handled at once; more are told to retry; absent: DEFAULT_HELLO_MAX_IN_FLIGHT. */
  helloMaxInFlight?: number;
  /** A node earns one hello back this often after a burst of five, ms; absent: 10 s. */
  helloPerNodeIntervalMs?: number;
  /** Hellos from new nodes are refused once the fleet has this many EdgeNodes; absent: 50,000. */
  maxNodes?: number;
  /**
   * A node silent this long is garbage-collected (EdgeNode, telemetry, assignment), ms; absent:
   * 7 days.
   */
  nodeGcAfterMs?: number;
  /**
   * Copies of each KV bucket the control plane creates (`ep-assignments`): 3 on a three-server
   * NATS cluster, so one server may die without loss; absent: 1. Buckets that exist are kept as
   * they are.
   */
  kvReplicas?: number;
  /**
   * JetStream domains of the sites' leaf nodes that mirror the assignments bucket: the leader
   * creates a site's mirror again when it stopped following the hub after an uplink cut.
   */
  siteDomains?: string[];
  /** The built dashboard page served at /dashboard; absent: dashboard/dist of the source tree. */
  dashboardDir?: string;
}

export const DEFAULT_HELLO_MAX_IN_FLIGHT = 512;
export const DEFAULT_HELLO_PER_NODE_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_NODES = 50_000;
export const DEFAULT_NODE_GC_AFTER_MS = 7 * 86_400_000;
/** JetStream replicates a stream on at most five servers. */
export const KV_REPLICAS_BOUNDS = { min: 1, max: 5 } as const;
export const DEFAULT_KV_REPLICAS = 1;

/** A node credential lives at least 10 s (tests of renewal) and at most 30 days. */
export const NODE_CREDENTIAL_TTL_BOUNDS_MS = { min: 10_000, max: 30 * 86_400_000 } as const;
export const DEFAULT_NODE_CREDENTIAL_TTL_MS = 86_400_000;

const msSchema = (min: number) => z.coerce.number().int().min(min).max(86_400_000);
const urlWithScheme = (schemes: string[]) =>
  z
    .string()
    .min(1)
    .refine((s) => {
      try {
        return schemes.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, `must be a URL with scheme ${schemes.join(' or ')}`);

/** `host:port,host:port` (IPv6 in brackets: `[::1]:26379`) into sentinel addresses; empty is none. */
const sentinelList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(
    z
      .array(
        z.string().transform((hp, ctx) => {
          const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(hp);
          const port = Number(m?.[3]);
          if (!m || port < 1 || port > 65535) {
            ctx.addIssue({ code: 'custom', message: `"${hp}" is not host:port` });
            return z.NEVER;
          }
          return { host: m[1] ?? m[2]!, port };
        }),
      )
      // Empty (a chart that always sets the variable): no sentinels.
      .transform((list) => (list.length > 0 ? list : undefined)),
  );

const namespaceList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'each namespace must be a DNS label')));

const domainList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'each JetStream domain must be 1..64 letters, digits, dashes or underscores')));

interface Setting {
  key: keyof Omit<Config, 'kube'> | 'kubeconfig';
  env: string;
  flag: string;
  schema: z.ZodType;
  fallback?: string;
  help: string;
  /** A flag without a value (`--flag` means true); its variable takes true or false. */
  boolean?: true;
}

/** Every setting with its environment variable, flag, default and meaning. */
export const SETTINGS: readonly Setting[] = [
  { key: 'natsUrl', env: 'EP_NATS_URL', flag: 'nats-url', schema: urlWithScheme(['nats:', 'tls:', 'ws:', 'wss:']), fallback: 'nats://127.0.0.1:4222', help: 'NATS server URL' },
  { key: 'natsCreds', env: 'EP_NATS_CREDS', flag: 'nats-creds', schema: z.string().min(1), help: 'NATS credentials file (JWT + nkey seed) of the control plane' },
  { key: 'natsCa', env: 'EP_NATS_CA', flag: 'nats-ca', schema: z.string().min(1), help: 'CA certificate (PEM) of the NATS server; default: the system CAs' },
  { key: 'insecureNats', env: 'EP_INSECURE_NATS', flag: 'insecure-nats', schema: z.stringbool(), fallback: 'false', boolean: true, help: 'allow NATS without TLS and credentials (a lab only; unsafe)' },
  { key: 'trustFile', env: 'EP_TRUST_FILE', flag: 'trust-file', schema: z.string().min(1), help: 'trust material (JSON from `edgeplane certs`); absent: no enrolment, renewal or revocation' },
  { key: 'bootstrapNamespace', env: 'EP_BOOTSTRAP_NAMESPACE', flag: 'bootstrap-namespace', schema: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label').max(63), help: 'namespace of bootstrap token Secrets; default: the lease namespace' },
  { key: 'nodeCredentialTtlMs', env: 'EP_NODE_CREDENTIAL_TTL', flag: 'node-credential-ttl', schema: durationText(NODE_CREDENTIAL_TTL_BOUNDS_MS.min, NODE_CREDENTIAL_TTL_BOUNDS_MS.max), fallback: '24h', help: 'lifetime of a node credential (agents renew before it ends), e.g. 24h' },
  { key: 'redisUrl', env: 'EP_REDIS_URL', flag: 'redis-url', schema: urlWithScheme(['redis:', 'rediss:']), fallback: 'redis://127.0.0.1:6379', help: 'Redis URL (rediss:// for TLS)' },
  { key: 'redisCa', env: 'EP_REDIS_CA', flag: 'redis-ca', schema: z.string().min(1), help: 'CA certificate (PEM) of a Redis served over TLS' },
  { key: 'redisSentinels', env: 'EP_REDIS_SENTINELS', flag: 'redis-sentinels', schema: sentinelList, help: 'Redis Sentinels host:port,... to ask for the primary (Redis URL host then ignored)' },
  { key: 'redisMasterName', env: 'EP_REDIS_MASTER_NAME', flag: 'redis-master-name', schema: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1..128 letters, digits, dots, dashes or underscores'), help: 'master group name the Redis Sentinels monitor' },
  { key: 'kubeconfig', env: 'EP_KUBECONFIG', flag: 'kubeconfig', schema: z.string().min(1), help: 'kubeconfig file; absent: in-cluster, else KUBECONFIG or ~/.kube/config' },
  { key: 'namespaces', env: 'EP_NAMESPACES', flag: 'namespaces', schema: namespaceList, fallback: '', help: 'comma-separated namespaces to watch; empty: all' },
  { key: 'nodeSelector', env: 'EP_NODE_SELECTOR', flag: 'node-selector', schema: z.string().max(1024), fallback: '', help: 'label selector over EdgeNodes to manage, e.g. site=a; empty: all' },
  { key: 'leaseName', env: 'EP_LEASE_NAME', flag: 'lease-name', schema: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS subdomain').max(253), fallback: 'edgeplane-control-plane', help: 'leader-election Lease name' },
  { key: 'leaseNamespace', env: 'EP_LEASE_NAMESPACE', flag: 'lease-namespace', schema: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label').max(63), fallback: 'default', help: 'namespace of the Lease' },
  { key: 'leaseDurationMs', env: 'EP_LEASE_DURATION_MS', flag: 'lease-duration-ms', schema: msSchema(1000), fallback: '6000', help: 'how long a Lease holds without renewal, ms' },
  { key: 'renewDeadlineMs', env: 'EP_RENEW_DEADLINE_MS', flag: 'renew-deadline-ms', schema: msSchema(100), fallback: '4000', help: 'the leader steps down if it cannot renew within this, ms' },
  { key: 'retryPeriodMs', env: 'EP_RETRY_PERIOD_MS', flag: 'retry-period-ms', schema: msSchema(50), fallback: '1000', help: 'interval between acquire or renew attempts, ms' },
  { key: 'heartbeatIntervalMs', env: 'EP_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', schema: z.coerce.number().int().min(HELLO_REPLY_BOUNDS.heartbeatIntervalMs.min).max(HELLO_REPLY_BOUNDS.heartbeatIntervalMs.max), fallback: '5000', help: 'heartbeat interval told to agents, ms (agents refuse one outside 100..600000)' },
  { key: 'nodeMonitorGracePeriodMs', env: 'EP_NODE_MONITOR_GRACE_PERIOD_MS', flag: 'node-monitor-grace-period-ms', schema: msSchema(100), fallback: '40000', help: 'a node silent this long is NotReady, ms (at least two heartbeat intervals)' },
  { key: 'evictionDelayMs', env: 'EP_EVICTION_DELAY_MS', flag: 'eviction-delay-ms', schema: msSchema(0), fallback: '300000', help: 'replicas of a NotReady node are placed elsewhere after this long, ms' },
  { key: 'fullDisruptionFraction', env: 'EP_FULL_DISRUPTION_FRACTION', flag: 'full-disruption-fraction', schema: z.coerce.number().gt(0).max(1), fallback: '0.55', help: 'this fraction of the fleet or of a site (topology.kubernetes.io/zone) NotReady at once evicts nothing there, 0..1' },
  { key: 'fullDisruptionMinNodes', env: 'EP_FULL_DISRUPTION_MIN_NODES', flag: 'full-disruption-min-nodes', schema: z.coerce.number().int().min(1).max(1_000_000), fallback: '3', help: 'a fleet or site with fewer nodes is never in full disruption' },
  { key: 'apiAddr', env: 'EP_API_ADDR', flag: 'api-addr', schema: ListenAddressText, fallback: '0.0.0.0:8080', help: 'HTTP API listen address host:port' },
  { key: 'logLevel', env: 'EP_LOG_LEVEL', flag: 'log-level', schema: z.enum(LOG_LEVELS), fallback: 'info', help: `log level: ${LOG_LEVELS.join('|')}` },
  { key: 'identity', env: 'EP_IDENTITY', flag: 'identity', schema: z.string().min(1).max(128), help: 'Lease holder identity; default hostname plus a random suffix' },
  { key: 'resyncMs', env: 'EP_RESYNC_MS', flag: 'resync-ms', schema: msSchema(1000), fallback: '300000', help: 'periodic full reconcile, ms' },
  { key: 'failureBackoffInitialMs', env: 'EP_FAILURE_BACKOFF_INITIAL_MS', flag: 'failure-backoff-initial-ms', schema: msSchema(100), fallback: '10000', help: 'a variant that failed on a node (fetch, digest, signature, load, memory) is not placed there for this long, ms' },
  { key: 'failureBackoffMaxMs', env: 'EP_FAILURE_BACKOFF_MAX_MS', flag: 'failure-backoff-max-ms', schema: msSchema(100), fallback: '300000', help: 'that wait doubles per failure in a row up to this, ms' },
  { key: 'workers', env: 'EP_WORKERS', flag: 'workers', schema: z.coerce.number().int().min(1).max(64), fallback: '4', help: 'concurrent reconciles' },
  { key: 'insecureNoAuth', env: 'EP_INSECURE_NO_AUTH', flag: 'insecure-no-auth', schema: z.stringbool(), fallback: 'false', boolean: true, help: 'serve the HTTP API to anyone, without tokens or RBAC (unsafe)' },
  { key: 'helloMaxInFlight', env: 'EP_HELLO_MAX_IN_FLIGHT', flag: 'hello-max-in-flight', schema: z.coerce.number().int().min(1).max(4096), fallback: String(DEFAULT_HELLO_MAX_IN_FLIGHT), help: 'hellos handled at once; more are answered busy and retried by the agent' },
  { key: 'helloPerNodeIntervalMs', env: 'EP_HELLO_PER_NODE_INTERVAL_MS', flag: 'hello-per-node-interval-ms', schema: msSchema(1), fallback: String(DEFAULT_HELLO_PER_NODE_INTERVAL_MS), help: 'after a burst of 5, a node may say hello once per this long, ms' },
  { key: 'maxNodes', env: 'EP_MAX_NODES', flag: 'max-nodes', schema: z.coerce.number().int().min(1).max(10_000_000), fallback: String(DEFAULT_MAX_NODES), help: 'hellos from new nodes are refused once this many EdgeNodes exist' },
  { key: 'nodeGcAfterMs', env: 'EP_NODE_GC_AFTER_MS', flag: 'node-gc-after-ms', schema: z.coerce.number().int().min(1000).max(365 * 86_400_000), fallback: String(DEFAULT_NODE_GC_AFTER_MS), help: 'a node silent this long is removed: EdgeNode, Redis telemetry, KV assignment, ms' },
  { key: 'kvReplicas', env: 'EP_KV_REPLICAS', flag: 'kv-replicas', schema: z.coerce.number({ error: 'must be a whole number from 1 to 5' }).int('must be a whole number from 1 to 5').min(KV_REPLICAS_BOUNDS.min, 'must be at least 1').max(KV_REPLICAS_BOUNDS.max, 'must be at most 5 (JetStream keeps at most five copies)'), fallback: String(DEFAULT_KV_REPLICAS), help: 'copies of a KV bucket the control plane creates, 1..5 (3 on a three-server NATS cluster); existing buckets are kept' },
  { key: 'siteDomains', env: 'EP_SITE_DOMAINS', flag: 'site-domains', schema: domainList, fallback: '', help: "comma-separated JetStream domains of sites' leaf nodes mirroring the assignments bucket; a mirror that stopped following the hub after an uplink cut is created again" },
  { key: 'dashboardDir', env: 'EP_DASHBOARD_DIR', flag: 'dashboard-dir', schema: z.string().min(1).max(4096), help: 'directory of the built dashboard served at /dashboard (default: dashboard/dist beside the sources)' },
  { key: 'metricsAuth', env: 'EP_METRICS_AUTH', flag: 'metrics-auth', schema: z.enum(METRICS_AUTH), fallback: 'rbac', help: `who may read /metrics: ${METRICS_AUTH.join('|')} (rbac: get on /metrics)` },
];

const settingName = (s: Setting) => `${s.env} (--${s.flag})`;

export interface ParseInput {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
}

export type ParseResult = { help: true; text: string } | { help: false; config: Config };

/** Parses flags over environment over defaults. Throws ConfigError naming the setting. */
export function parseConfig({ argv = [], env = {} }: ParseInput): ParseResult {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }])),
      },
    }).values;
  } catch (cause) {
    throw new ConfigError('flags', (cause as Error).message, { cause });
  }
  if (flags.help) return { help: true, text: usage() };

  const values: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const flag = flags[s.flag];
    const raw = typeof flag === 'string' ? flag : flag === true ? 'true' : (env[s.env] ?? s.fallback);
    if (raw === undefined) continue;
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(settingName(s), parsed.error.issues.map((i) => i.message).join('; '));
    values[s.key] = parsed.data;
  }

  const config = {
    ...(values as Omit<Config, 'kube' | 'identity'>),
    kube: kubeSource(values.kubeconfig as string | undefined, env),
    identity: (values.identity as string | undefined) ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    bootstrapNamespace: (values.bootstrapNamespace as string | undefined) ?? (values.leaseNamespace as string),
  } satisfies Config;
  checkTimings(config);
  checkNatsSecurity(config);
  checkApiExposure(config);
  checkRedisSentinel(config);
  return { help: false, config };
}

function kubeSource(explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): KubeSource {
  if (explicit) return { source: 'file', path: explicit };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { source: 'in-cluster' };
  return { source: 'default' };
}

/** Secure unless told otherwise: credentials and TLS, or the explicit insecure flag. */
function checkNatsSecurity(c: Config): void {
  if (c.insecureNats) return;
  const byKey = (key: Setting['key']) => settingName(SETTINGS.find((s) => s.key === key)!);
  if (!c.natsCreds) throw new ConfigError(byKey('natsCreds'), `is required (or set ${byKey('insecureNats')} for a lab without authentication)`);
  if (!c.natsUrl.split(',').every((u) => /^(tls|wss):/.test(u.trim())) && !c.natsCa) {
    throw new ConfigError(byKey('natsUrl'), `must use tls:// or wss://, or name a CA with ${byKey('natsCa')} (or set ${byKey('insecureNats')})`);
  }
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/;

/** The API listens on every address only behind authentication: unauthenticated, loopback only. */
function checkApiExposure(c: Config): void {
  if (!c.insecureNoAuth || LOOPBACK.test(c.apiAddr.host)) return;
  const byKey = (key: Setting['key']) => settingName(SETTINGS.find((s) => s.key === key)!);
  throw new ConfigError(byKey('apiAddr'), `must be a loopback address while ${byKey('insecureNoAuth')} is set: without authentication the API would serve every namespace to anyone who reaches it`);
}

/** Sentinels and a master name come together: one without the other cannot find a primary. */
function checkRedisSentinel(c: Config): void {
  const byKey = (key: Setting['key']) => settingName(SETTINGS.find((s) => s.key === key)!);
  if (c.redisSentinels && !c.redisMasterName) throw new ConfigError(byKey('redisMasterName'), `is required with ${byKey('redisSentinels')}`);
  if (c.redisMasterName && !c.redisSentinels) throw new ConfigError(byKey('redisSentinels'), `is required with ${byKey('redisMasterName')}`);
}

/** The same ordering client-go demands: retry < renew deadline < lease duration. */
function checkTimings(c: Config): void {
  const byKey = (key: Setting['key']) => settingName(SETTINGS.find((s) => s.key === key)!);
  if (c.renewDeadlineMs >= c.leaseDurationMs) {
    throw new ConfigError(byKey('renewDeadlineMs'), `must be less than the lease duration (${c.leaseDurationMs} ms)`);
  }
  if (c.failureBackoffInitialMs !== undefined && c.failureBackoffMaxMs !== undefined && c.failureBackoffMaxMs < c.failureBackoffInitialMs) {
    throw new ConfigError(byKey('failureBackoffMaxMs'), `must be at least the initial backoff (${c.failureBackoffInitialMs} ms)`);
  }
  if (c.retryPeriodMs >= c.renewDeadlineMs) {
    throw new ConfigError(byKey('retryPeriodMs'), `must be less than the renew deadline (${c.renewDeadlineMs} ms)`);
  }
  // One late heartbeat must not make a node NotReady.
  if (c.nodeMonitorGracePeriodMs < 2 * c.heartbeatIntervalMs) {
    throw new ConfigError(byKey('nodeMonitorGracePeriodMs'), `must be at least two heartbeat intervals (${2 * c.heartbeatIntervalMs} ms)`);
  }
}

export function usage(): string {
  const rows = SETTINGS.map((s) => `  --${s.flag.padEnd(24)} ${s.env.padEnd(26)} ${s.help}${s.fallback !== undefined ? ` [${s.fallback || 'empty'}]` : ''}`);
  return ['usage: control-plane [flags]', '', '  flag                       environment                meaning [default]', ...rows, '  --help', '  --version'].join('\n');
}
