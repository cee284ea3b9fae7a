// Bootstrap tokens as Kubernetes Secrets, as kubeadm keeps its own: `edgeplane token create`
// writes them, the leader reads them and counts each enrolment. One format for both sides.
import { z } from 'zod';
import { TOKEN_ID_PATTERN, TOKEN_SECRET_PATTERN } from './enrollment.ts';

export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'edgeplane.io/bootstrap-token';
/** Label on every token Secret, so they can be listed without reading other Secrets. */
export const BOOTSTRAP_TOKEN_LABEL = 'edgeplane.io/bootstrap-token';
export const bootstrapSecretName = (tokenId: string) => `edgeplane-bootstrap-${tokenId}`;

/** Keys of the Secret's data. */
export const BOOTSTRAP_TOKEN_KEYS = {
  tokenId: 'token-id',
  tokenSecret: 'token-secret',
  /** RFC 3339; the token and its bootstrap JWT are refused from then on. */
  expiration: 'expiration',
  /** Optional: enrolments allowed in all. */
  maxUses: 'max-uses',
  /** Optional glob over node names: `*` any run of [a-z0-9-], `?` one such character. */
  nodeNamePattern: 'node-name-pattern',
  /** Enrolments counted so far (the leader increments it with compare-and-swap). */
  uses: 'uses',
  /** Optional `true`: a node already enrolled with another key may enrol again (the old key is revoked). */
  allowReenrollment: 'allow-reenrollment',
  description: 'description',
} as const;

/** A node-name glob: lowercase letters, digits, `-`, `*` and `?`. */
export const NodeNamePattern = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9*?-]+$/, 'must be a glob of a-z, 0-9, -, * (any run) and ? (one character)');

const Rfc3339 = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 time')
  .refine((s) => Number.isFinite(Date.parse(s)), 'must be an RFC 3339 time');
const Count = z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number);

/** The Secret's data, decoded from base64, as stored. */
export const BootstrapTokenData = z.object({
  [BOOTSTRAP_TOKEN_KEYS.tokenId]: z.string().regex(TOKEN_ID_PATTERN, 'must be 6 characters of a-z and 0-9'),
  [BOOTSTRAP_TOKEN_KEYS.tokenSecret]: z.string().regex(TOKEN_SECRET_PATTERN, 'must be 16 characters of a-z and 0-9'),
  [BOOTSTRAP_TOKEN_KEYS.expiration]: Rfc3339,
  [BOOTSTRAP_TOKEN_KEYS.maxUses]: Count.refine((n) => n >= 1, 'must be at least 1').optional(),
  [BOOTSTRAP_TOKEN_KEYS.nodeNamePattern]: NodeNamePattern.optional(),
  [BOOTSTRAP_TOKEN_KEYS.uses]: Count.default(0),
  [BOOTSTRAP_TOKEN_KEYS.allowReenrollment]: z.enum(['true', 'false']).default('false'),
  [BOOTSTRAP_TOKEN_KEYS.description]: z.string().max(256).optional(),
});

export interface BootstrapToken {
  tokenId: string;
  secret: string;
  expiresAtMs: number;
  maxUses?: number;
  nodeNamePattern?: string;
  uses: number;
  allowReenrollment: boolean;
  description?: string;
}

export type BootstrapTokenParse = { ok: true; token: BootstrapToken } | { ok: false; field: string; message: string };

/** Reads decoded Secret data; a bad field is named, its value never echoed. */
export function parseBootstrapTokenData(data: Readonly<Record<string, string>>): BootstrapTokenParse {
  const r = BootstrapTokenData.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, field: issue?.path.map(String).join('.') || '(root)', message: issue?.message ?? 'invalid' };
  }
  const d = r.data;
  const K = BOOTSTRAP_TOKEN_KEYS;
  return {
    ok: true,
    token: {
      tokenId: d[K.tokenId],
      secret: d[K.tokenSecret],
      expiresAtMs: Date.parse(d[K.expiration]),
      ...(d[K.maxUses] !== undefined ? { maxUses: d[K.maxUses] } : {}),
      ...(d[K.nodeNamePattern] !== undefined ? { nodeNamePattern: d[K.nodeNamePattern] } : {}),
      uses: d[K.uses],
      allowReenrollment: d[K.allowReenrollment] === 'true',
      ...(d[K.description] !== undefined ? { description: d[K.description] } : {}),
    },
  };
}

/** The Secret's data as strings (for `stringData`), the inverse of parseBootstrapTokenData. */
export function bootstrapTokenStringData(t: BootstrapToken): Record<string, string> {
  const K = BOOTSTRAP_TOKEN_KEYS;
  return {
    [K.tokenId]: t.tokenId,
    [K.tokenSecret]: t.secret,
    [K.expiration]: new Date(t.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(t.maxUses !== undefined ? { [K.maxUses]: String(t.maxUses) } : {}),
    ...(t.nodeNamePattern !== undefined ? { [K.nodeNamePattern]: t.nodeNamePattern } : {}),
    [K.uses]: String(t.uses),
    ...(t.allowReenrollment ? { [K.allowReenrollment]: 'true' } : {}),
    ...(t.description !== undefined ? { [K.description]: t.description } : {}),
  };
}

export type TokenState = 'usable' | 'expired' | 'used-up';

/** Whether a token may enrol one more node now. */
export function tokenState(t: Pick<BootstrapToken, 'expiresAtMs' | 'maxUses' | 'uses'>, nowMs: number): TokenState {
  if (nowMs >= t.expiresAtMs) return 'expired';
  if (t.maxUses !== undefined && t.uses >= t.maxUses) return 'used-up';
  return 'usable';
}

/**
 * Glob match of a node name, linear in practice: on a mismatch it backtracks only to the last
 * `*`, so no pattern can make it explode (as a regular expression could).
 */
export function nodeNameMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
