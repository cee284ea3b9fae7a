// Credentials never reach a log line or an error message. One place knows what a secret
// looks like in text: the user-info of a URL (nats://u:p@h, redis://:p@h, a bare token user
// as in nats://token@h), secret query parameters, bearer and basic credentials, JWTs, NATS
// nkey seeds and PEM private keys. Loggers also censor fields by name (LOG_REDACT_PATHS).

export const REDACTED = '***';

/** Text past this length is cut before it is scanned, so a huge string costs a bounded scan. */
const MAX_SCAN_CHARS = 64 * 1024;

// Quantifiers are bounded so that a long run of letters cannot make a pattern backtrack
// across the whole string from every position.
const USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#@]{0,1024}(?:@[^\s/?#@]{0,1024})*)@/gi;
const SECRET_QUERY = /([?&;](?:token|access_token|password|passwd|pass|secret|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s]{1,4096}/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,8192}/g;
/** Runs of base64url and dots; each is tested whole against JWT, so the scan stays linear. */
const TOKEN_RUN = /[A-Za-z0-9_.-]+/g;
const JWT = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** An nkey seed: `S`, the key type, then base32 (58 characters in all). */
const NKEY_SEED = /\bS[UAONCXP][A-Z2-7]{56}\b/g;
const PEM_SECRET = /-----BEGIN ([A-Z ]{0,40}(?:PRIVATE KEY|SEED))-----[\s\S]{0,16384}?-----END \1-----/g;

/** Field names whose value is a secret wherever they appear in a logged object. */
export const SECRET_KEYS = ['token', 'password', 'passwd', 'secret', 'seed', 'jwt', 'authorization', 'cookie', 'bootstrapToken', 'apiKey', 'privateKey', 'creds'] as const;
const SECRET_KEY_SET = new Set<string>(SECRET_KEYS.map((k) => k.toLowerCase()));

/** pino `redact` paths: the secret fields at the top level, one level down, and request headers. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'headers.authorization',
];

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_SET.has(key.toLowerCase());
}

/**
 * Free text with every credential replaced by `***`. Never throws; text longer than 64 KiB
 * is cut first (and says so), so the cost of a call is bounded.
 */
export function redactSecrets(text: string): string {
  let s = text.length > MAX_SCAN_CHARS ? `${text.slice(0, MAX_SCAN_CHARS)}…(cut)` : text;
  if (s.includes('@')) {
    s = s.replace(USERINFO, (_m, scheme: string, info: string) => {
      const colon = info.indexOf(':');
      // A password after the colon; a bare user may itself be a token (nats://token@host).
      return colon >= 0 ? `${scheme}${info.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    });
  }
  if (s.includes('=')) s = s.replace(SECRET_QUERY, `$1${REDACTED}`);
  if (s.includes('Bearer') || s.includes('Basic')) s = s.replace(AUTH_SCHEME, `$1 ${REDACTED}`);
  if (s.includes('eyJ')) s = s.replace(TOKEN_RUN, (run) => (run.startsWith('eyJ') && JWT.test(run) ? REDACTED : run));
  s = s.replace(NKEY_SEED, REDACTED);
  if (s.includes('-----BEGIN')) s = s.replace(PEM_SECRET, `-----BEGIN $1-----${REDACTED}-----END $1-----`);
  return s;
}

/**
 * A URL (or a comma-separated list of them, as NATS takes) fit for a log line or an error:
 * the password, or a bare token user, becomes `***`.
 */
export function redactUrl(url: string): string {
  return redactSecrets(url);
}

export interface RedactValueOptions {
  /** Turns an Error into a plain object before it is walked (a logger's error serializer). */
  serializeError?: (err: Error) => unknown;
  /** Levels of nesting walked; deeper values are replaced by a marker. */
  maxDepth?: number;
}

/**
 * A copy of a value to be logged with secrets removed: strings through redactSecrets, fields
 * named like secrets (SECRET_KEYS, any depth) censored, errors serialized then walked. Cycles
 * and depth are bounded. Values with nothing to redact come back as they are.
 */
export function redactLogValue(value: unknown, options: RedactValueOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? 8;
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number, serialized = false): unknown => {
    if (typeof v === 'string') return redactSecrets(v);
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return '[Circular]';
    if (depth >= maxDepth) return '[Deep]';
    seen.add(v);
    try {
      if (v instanceof Error) {
        const plain = options.serializeError ? options.serializeError(v) : { type: v.name, message: v.message, stack: v.stack };
        // A serializer's output may have its own prototype (pino's does): walk it as plain.
        return walk(plain, depth, true);
      }
      if (Array.isArray(v)) {
        let changed = false;
        const out = v.map((x) => {
          const r = walk(x, depth + 1);
          if (r !== x) changed = true;
          return r;
        });
        return changed ? out : v;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      // Buffers, Maps, Dates and class instances are left to the logger's own serializers.
      if (!serialized && proto !== Object.prototype && proto !== null) return v;
      let changed = serialized;
      const out: Record<string, unknown> = {};
      // for..in: a serialized error keeps its fields on its own prototype chain.
      for (const k of serialized ? keysIn(v) : Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k];
        const r = isSecretKey(k) && x !== undefined && x !== null ? REDACTED : walk(x, depth + 1, serialized);
        if (r !== x) changed = true;
        out[k] = r;
      }
      return changed ? out : v;
    } finally {
      seen.delete(v);
    }
  };
  try {
    return walk(value, 0);
  } catch {
    // A getter that throws, a proxy: log a marker rather than the raw value or nothing.
    return '[Unloggable]';
  }
}

function keysIn(o: object): string[] {
  const keys: string[] = [];
  for (const k in o) keys.push(k);
  return keys;
}

/** What a logger must offer for its children's bindings to be cleaned too. */
interface ChildLogger<L> {
  child(bindings: Record<string, unknown>, options?: unknown): L;
}

/**
 * Makes every child logger's bindings pass through redactLogValue (pino does not run its
 * bindings formatter for children). Children inherit the override, so one call covers all.
 */
export function redactChildBindings<L extends ChildLogger<L>>(logger: L): L {
  const child = logger.child;
  (logger as ChildLogger<L>).child = function (this: L, bindings, options) {
    return child.call(this, redactLogValue(bindings) as Record<string, unknown>, options);
  };
  return logger;
}

/**
 * Logger options (pino's shape, without depending on pino) that keep secrets out of every
 * line: `redact` censors the named fields, `formatters` and `serializers` walk what is logged
 * (errors included, through `serializeError`), and `hooks.logMethod` cleans message strings.
 */
export function redactingLogOptions(serializeError: (err: Error) => unknown) {
  const clean = (v: unknown): unknown => redactLogValue(v, { serializeError });
  return {
    redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    formatters: {
      log: (o: Record<string, unknown>) => clean(o) as Record<string, unknown>,
      bindings: (b: Record<string, unknown>) => clean(b) as Record<string, unknown>,
    },
    serializers: { err: clean },
    hooks: {
      logMethod(this: unknown, args: unknown[], method: (...a: unknown[]) => void): void {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)));
      },
    },
  };
}
