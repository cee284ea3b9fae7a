// Agent configuration: flags over environment (EP_AGENT_*) over a YAML file over defaults,
// parsed once at start into a typed object. Nothing else in the agent reads process.env.
import { MAX_CONFIG_FILE_BYTES, readTextBoundedSync } from './bounded-read.ts';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ListenAddressText, NodeName, type ListenAddress } from '@edgeplane/api';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AgentConfig {
  node: string;
  natsUrl: string;
  /** NATS credentials file (JWT + nkey seed), if the server requires one. */
  natsCreds?: string;
  /** CA (PEM file) that signed the NATS server's certificate; absent: the system's CAs. */
  natsCa?: string;
  /** Join token `<id>.<secret>::<jwt>` to enrol with when the state dir holds no credential; a secret. */
  bootstrapToken?: string;
  /** File holding the join token; read only when the agent has to enrol. */
  bootstrapTokenFile?: string;
  /** `sha256:<hex>` of the fleet CA's public key: the CA is fetched from the server and pinned. */
  caHash?: string;
  /** Lab only: connect without credentials (and without TLS if the URL says nats://). */
  insecureNats?: boolean;
  /** Root of /proc, /sys, /dev for discovery; a fixture tree in tests and demos. */
  root: string;
  overrideFile?: string;
  stateDir: string;
  cacheDir: string;
  cacheMaxBytes: number;
  /** Local inference endpoint (Open Inference Protocol over HTTP). */
  httpAddr: ListenAddress;
  /** File holding the bearer token the local endpoint requires; none: no token (loopback only). */
  httpTokenFile?: string;
  /** Local inference endpoint over gRPC (the Open Inference Protocol's GRPCInferenceService), same token; absent: the HTTP host, the HTTP port + 1. */
  grpcAddr?: ListenAddress;
  logLevel: LogLevel;
  /** Link round-trip check period on unmetered links, ms (metered: 12x); full probes as the probe policy asks. */
  linkProbeIntervalMs: number;
  /** Which keys may sign model artifacts, and whether an artifact must be signed to load. */
  trust: TrustConfig;
  /** Directories file:// artifacts may be read from; empty refuses file:// artifacts. */
  fileRoots: string[];
  /** Largest inference request, bytes: the HTTP body and the NATS payload; larger ones get 413. */
  maxRequestBytes: number;
  /** Most elements one input tensor may claim (product of its shape), checked before any allocation. */
  maxTensorElements: number;
}

export interface TrustConfig {
  /** Never load an artifact without a signature that one of `publicKeys` verifies. */
  requireSignature: boolean;
  /** PEM files of the ECDSA P-256 public keys (cosign.pub) trusted to sign artifacts. */
  publicKeys: string[];
}

/** A setting is missing, malformed or out of range; `setting` names it as a person types it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
  readonly setting: string;

  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super(`${setting}: ${message}`, options);
    this.setting = setting;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };
const bytes = z.string().transform((s, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a size such as 512MiB, 10GiB or 1000000' });
    return z.NEVER;
  }
  return Math.floor(Number(m[1]) * unit);
});

const natsUrl = z
  .string()
  .min(1)
  .refine((s) => s.split(',').every((u) => {
    try {
      return ['nats:', 'tls:', 'ws:', 'wss:'].includes(new URL(u.trim()).protocol);
    } catch {
      return false;
    }
  }), 'must be a URL with scheme nats, tls, ws or wss (several separated by commas)');

/** Comma-separated absolute directories (a YAML list in the config file); `..` is resolved. */
const directoryList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string().max(4096).refine((p) => isAbsolute(p), 'each directory must be an absolute path').transform((p) => resolve(p))).max(64));

/** A host name made into a DNS label: the default node name. */
export function defaultNodeName(host = hostname()): string {
  const label = host.toLowerCase().split('.')[0]!.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return label || 'edge-node';
}

interface Setting {
  key: keyof AgentConfig;
  env: string;
  flag: string;
  schema: z.ZodType;
  fallback?: () => string;
  help: string;
  /** A switch: `--flag` alone means true; the environment and the file say true or false. */
  boolean?: true;
}

/** `sha256:` and 64 hex digits, as `edgeplane certs` prints the CA's hash. */
const caHashText = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>, as edgeplane certs prints the CA hash');

export const SETTINGS: readonly Setting[] = [
  { key: 'node', env: 'EP_AGENT_NODE', flag: 'node', schema: NodeName, fallback: () => defaultNodeName(), help: 'node name (a DNS label) [host name]' },
  { key: 'natsUrl', env: 'EP_AGENT_NATS_URL', flag: 'nats-url', schema: natsUrl, fallback: () => 'nats://127.0.0.1:4222', help: 'NATS server URL(s), comma-separated' },
  { key: 'natsCreds', env: 'EP_AGENT_NATS_CREDS', flag: 'nats-creds', schema: z.string().min(1), help: 'NATS credentials file' },
  { key: 'natsCa', env: 'EP_AGENT_NATS_CA', flag: 'nats-ca', schema: z.string().min(1), help: 'CA certificate (PEM) of the NATS server; default: the system CAs' },
  { key: 'bootstrapToken', env: 'EP_AGENT_BOOTSTRAP_TOKEN', flag: 'bootstrap-token', schema: z.string().min(1).max(16 * 1024), help: 'join token from edgeplane token create, to enrol (prefer the file or the environment: argv is visible)' },
  { key: 'bootstrapTokenFile', env: 'EP_AGENT_BOOTSTRAP_TOKEN_FILE', flag: 'bootstrap-token-file', schema: z.string().min(1), help: 'file holding the join token; read only when enrolment is needed' },
  { key: 'caHash', env: 'EP_AGENT_CA_HASH', flag: 'ca-hash', schema: caHashText, help: 'sha256:<hex> of the fleet CA public key; the CA is fetched from the server, checked and kept in the state dir' },
  { key: 'insecureNats', env: 'EP_AGENT_INSECURE_NATS', flag: 'insecure-nats', schema: z.stringbool(), fallback: () => 'false', boolean: true, help: 'LAB ONLY: connect without credentials; anyone on the bus can then speak for this node' },
  { key: 'root', env: 'EP_AGENT_ROOT', flag: 'root', schema: z.string().min(1), fallback: () => '/', help: 'root of /proc, /sys, /dev for hardware discovery' },
  { key: 'overrideFile', env: 'EP_AGENT_OVERRIDE_FILE', flag: 'override-file', schema: z.string().min(1), help: 'YAML declaring accelerators, power and link no probe sees; re-read on change' },
  { key: 'stateDir', env: 'EP_AGENT_STATE_DIR', flag: 'state-dir', schema: z.string().min(1), fallback: () => '/var/lib/edgeplane-agent', help: 'where the last assignment is kept' },
  { key: 'cacheDir', env: 'EP_AGENT_CACHE_DIR', flag: 'cache-dir', schema: z.string().min(1), fallback: () => '/var/cache/edgeplane-agent', help: 'model artifact cache' },
  { key: 'cacheMaxBytes', env: 'EP_AGENT_CACHE_MAX', flag: 'cache-max', schema: bytes, fallback: () => '10GiB', help: 'artifact cache cap, e.g. 512MiB' },
  { key: 'httpAddr', env: 'EP_AGENT_HTTP_ADDR', flag: 'http-addr', schema: ListenAddressText, fallback: () => '127.0.0.1:8080', help: 'local inference endpoint host:port' },
  { key: 'grpcAddr', env: 'EP_AGENT_GRPC_ADDR', flag: 'grpc-addr', schema: ListenAddressText, help: 'local inference endpoint over gRPC (Open Inference Protocol) host:port [the HTTP host, HTTP port + 1: 127.0.0.1:8081]' },
  { key: 'httpTokenFile', env: 'EP_AGENT_HTTP_TOKEN_FILE', flag: 'http-token-file', schema: z.string().min(1), help: 'file with the bearer token the local endpoint requires (all but /v2/health/*)' },
  { key: 'logLevel', env: 'EP_AGENT_LOG_LEVEL', flag: 'log-level', schema: z.enum(LOG_LEVELS), fallback: () => 'info', help: `log level: ${LOG_LEVELS.join('|')}` },
  { key: 'linkProbeIntervalMs', env: 'EP_AGENT_LINK_PROBE_INTERVAL_MS', flag: 'link-probe-interval-ms', schema: z.coerce.number().int().min(1000).max(86_400_000), fallback: () => '3600000', help: 'link round-trip check period on unmetered links, ms (metered: 12x); a full bandwidth probe runs only with no figure, a new link, a moved round trip or a week-old figure' },
  { key: 'fileRoots', env: 'EP_AGENT_FILE_ROOTS', flag: 'file-roots', schema: directoryList, fallback: () => '', help: 'directories file:// artifacts may be read from, comma-separated; none: file:// refused' },
  { key: 'maxRequestBytes', env: 'EP_AGENT_MAX_REQUEST', flag: 'max-request', schema: bytes.pipe(z.number().int().min(1024).max(2 ** 30)), fallback: () => '8MiB', help: 'largest inference request (HTTP body, NATS payload); larger ones get 413' },
  { key: 'maxTensorElements', env: 'EP_AGENT_MAX_TENSOR_ELEMENTS', flag: 'max-tensor-elements', schema: z.coerce.number().int().min(1).max(2 ** 31), fallback: () => '16777216', help: 'most elements (shape product) one input tensor may claim' },
];

const CONFIG_SETTING = { env: 'EP_AGENT_CONFIG', flag: 'config' } as const;

/** The trust policy: a `trust:` mapping in the file; a repeatable flag and a switch otherwise. */
const TRUST_SETTING = {
  key: 'trust',
  keysFlag: 'trust-public-key',
  keysEnv: 'EP_AGENT_TRUST_PUBLIC_KEYS',
  requireFlag: 'require-signature',
  requireEnv: 'EP_AGENT_REQUIRE_SIGNATURE',
} as const;
const MAX_TRUSTED_KEYS = 64;

const TrustFileSchema = z.strictObject({
  requireSignature: z.boolean().optional(),
  publicKeys: z.array(z.string().min(1)).max(MAX_TRUSTED_KEYS).optional(),
});
const BooleanText = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const KeyList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0))
  .pipe(z.array(z.string()).max(MAX_TRUSTED_KEYS));

/** Flags over environment over the file's `trust:` mapping, field by field. */
function parseTrust(
  flags: Record<string, string | boolean | string[] | undefined>,
  env: Readonly<Record<string, string | undefined>>,
  file: unknown,
  configPath: string | undefined,
): TrustConfig {
  let fileTrust: z.infer<typeof TrustFileSchema> = {};
  if (file !== undefined) {
    const parsed = TrustFileSchema.safeParse(file);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.length ? `.${issue.path.join('.')}` : '';
      throw new ConfigError(`config file ${configPath}: ${TRUST_SETTING.key}${path}`, issue?.message ?? 'must be a mapping of requireSignature and publicKeys');
    }
    fileTrust = parsed.data;
  }

  let publicKeys: string[] = fileTrust.publicKeys ?? [];
  const keyFlags = flags[TRUST_SETTING.keysFlag];
  if (Array.isArray(keyFlags) && keyFlags.length > 0) {
    if (keyFlags.length > MAX_TRUSTED_KEYS || keyFlags.some((k) => k.length === 0)) throw new ConfigError(`--${TRUST_SETTING.keysFlag}`, `must name 1 to ${MAX_TRUSTED_KEYS} non-empty files`);
    publicKeys = keyFlags;
  } else if (env[TRUST_SETTING.keysEnv] !== undefined) {
    const parsed = KeyList.safeParse(env[TRUST_SETTING.keysEnv]);
    if (!parsed.success) throw new ConfigError(TRUST_SETTING.keysEnv, `at most ${MAX_TRUSTED_KEYS} files, separated by commas`);
    publicKeys = parsed.data;
  }

  let requireSignature = fileTrust.requireSignature ?? false;
  if (flags[TRUST_SETTING.requireFlag] === true) requireSignature = true;
  else if (env[TRUST_SETTING.requireEnv] !== undefined) {
    const parsed = BooleanText.safeParse(env[TRUST_SETTING.requireEnv]);
    if (!parsed.success) throw new ConfigError(TRUST_SETTING.requireEnv, 'must be true or false');
    requireSignature = parsed.data;
  }
  if (requireSignature && publicKeys.length === 0) {
    throw new ConfigError(`--${TRUST_SETTING.requireFlag}`, `signatures are required but no key is trusted: add --${TRUST_SETTING.keysFlag} (${TRUST_SETTING.keysEnv}, or trust.publicKeys in the file)`);
  }
  return { requireSignature, publicKeys };
}

export type ParseResult = { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'run'; config: AgentConfig };

export interface ParseInput {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads the YAML config file; injectable so tests need no files. */
  readFile?: (path: string) => string;
}

/** Reads at most a byte past the limit, so a huge file is refused without being read whole. */
function readConfigText(path: string): string {
  const { text, tooLarge } = readTextBoundedSync(path, MAX_CONFIG_FILE_BYTES);
  if (tooLarge) throw Object.assign(new Error(`${path} is too large`), { code: 'EFBIG' });
  return text;
}

function readConfigFile(path: string, read: (path: string) => string): { scalars: Record<string, string>; trust: unknown } {
  const setting = `config file ${path}`;
  let doc: unknown;
  try {
    const text = read(path);
    // YAML parsing grows faster than the text: a bounded file keeps a hostile one cheap.
    if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    doc = parseYaml(text) ?? {};
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'EFBIG' ? `larger than ${MAX_CONFIG_FILE_BYTES} bytes` : code ? `cannot read: ${code}` : `not valid YAML: ${(cause as Error).message}`;
    throw new ConfigError(setting, why, { cause });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError(setting, 'must be a mapping of setting: value');
  const known = new Set<string>([...SETTINGS.map((s) => s.key), TRUST_SETTING.key]);
  const out: Record<string, string> = {};
  let trust: unknown;
  for (const [key, value] of Object.entries(doc)) {
    if (key === TRUST_SETTING.key) {
      trust = value;
      continue;
    }
    if (!known.has(key)) throw new ConfigError(`${setting}: ${key}`, `unknown setting; known: ${[...known].join(', ')}`);
    // A list of scalars stands for the comma-separated form (fileRoots, natsUrl).
    if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
      out[key] = value.map(String).join(',');
      continue;
    }
    if (typeof value === 'object' && value !== null) throw new ConfigError(`${setting}: ${key}`, 'must be a scalar');
    out[key] = String(value);
  }
  return { scalars: out, trust };
}

/** Throws ConfigError naming the setting (flag and environment variable, or the file key). */
export function parseConfig({ argv = [], env = {}, readFile = readConfigText }: ParseInput): ParseResult {
  let flags: Record<string, string | boolean | string[] | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        [CONFIG_SETTING.flag]: { type: 'string', short: 'c' },
        ...Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }])),
        [TRUST_SETTING.keysFlag]: { type: 'string', multiple: true },
        [TRUST_SETTING.requireFlag]: { type: 'boolean' },
      },
    }).values;
  } catch (cause) {
    throw new ConfigError('flags', (cause as Error).message, { cause });
  }
  if (flags.help) return { kind: 'help', text: usage() };
  if (flags.version) return { kind: 'version' };

  const configPath = typeof flags.config === 'string' ? flags.config : env[CONFIG_SETTING.env];
  const { scalars: file, trust: fileTrust } = configPath ? readConfigFile(configPath, readFile) : { scalars: {} as Record<string, string>, trust: undefined };

  const values: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const flag = flags[s.flag];
    const [raw, from] =
      typeof flag === 'string' ? [flag, `--${s.flag}`]
      : flag === true ? ['true', `--${s.flag}`]
      : env[s.env] !== undefined ? [env[s.env], s.env]
      : file[s.key] !== undefined ? [file[s.key], `config file ${configPath}: ${s.key}`]
      : [s.fallback?.(), `default of --${s.flag}`];
    if (raw === undefined) continue;
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(from, parsed.error.issues.map((i) => i.message).join('; '));
    values[s.key] = parsed.data;
  }
  values.trust = parseTrust(flags, env, fileTrust, configPath);
  checkIdentitySettings(values as unknown as AgentConfig);
  return { kind: 'run', config: values as unknown as AgentConfig };
}

const settingName = (key: keyof AgentConfig): string => {
  const s = SETTINGS.find((x) => x.key === key)!;
  return `--${s.flag} (${s.env})`;
};

/**
 * Settings that only make sense together. Whether the agent has an identity at all is decided
 * at start, when the state dir (which may hold an enrolled credential) is read.
 */
function checkIdentitySettings(c: AgentConfig): void {
  if (c.bootstrapToken !== undefined && c.bootstrapTokenFile !== undefined) {
    throw new ConfigError(settingName('bootstrapToken'), `give the join token or ${settingName('bootstrapTokenFile')}, not both`);
  }
  if ((c.bootstrapToken !== undefined || c.bootstrapTokenFile !== undefined) && c.caHash === undefined && c.natsCa === undefined) {
    throw new ConfigError(
      settingName('caHash'),
      `enrolment needs the fleet CA to trust: pass ${settingName('caHash')} (sha256:<hex>, printed by edgeplane certs) or ${settingName('natsCa')}`,
    );
  }
}

export function usage(): string {
  const rows = [
    `  --${'config, -c'.padEnd(24)} ${CONFIG_SETTING.env.padEnd(32)} YAML file with any of the settings below, keyed by name`,
    ...SETTINGS.map((s) => `  --${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.help}${s.fallback && s.key !== 'node' ? ` [${s.fallback()}]` : ''}`),
    `  --${TRUST_SETTING.keysFlag.padEnd(24)} ${TRUST_SETTING.keysEnv.padEnd(32)} public key (PEM, cosign.pub) trusted to sign models; repeat, or separate by commas`,
    `  --${TRUST_SETTING.requireFlag.padEnd(24)} ${TRUST_SETTING.requireEnv.padEnd(32)} never load a model without a signature a trusted key verifies [false]`,
    `  --${'version, -v'.padEnd(24)} ${''.padEnd(32)} print the version`,
    `  --${'help, -h'.padEnd(24)} ${''.padEnd(32)} print this help`,
  ];
  return [
    'usage: edgeplane-agent [flags]',
    '',
    'Discovers this device\'s accelerators, power and link, reports them to the edgeplane control',
    'plane over NATS, and serves the models it assigns, from disk when the control plane is away.',
    'Flags win over environment, environment over the config file.',
    '',
    `  ${'flag'.padEnd(26)} ${'environment'.padEnd(32)} meaning [default]`,
    ...rows,
  ].join('\n');
}
