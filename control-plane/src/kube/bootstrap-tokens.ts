// Bootstrap tokens stored as Secrets (`edgeplane-bootstrap-<id>`, type
// `edgeplane.io/bootstrap-token`): read one, and count a use with a compare-and-swap on the
// Secret's resourceVersion. A lost swap is reported, not retried: the agent asks again and the
// next request reads the new count.
import {
  BOOTSTRAP_TOKEN_KEYS,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  bootstrapSecretName,
  parseBootstrapTokenData,
  type BootstrapToken,
} from '@edgeplane/api';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { NotLeaderError } from '../errors.ts';
import { isConflict, isNotFound } from './errors.ts';

export type TokenRead =
  | { found: true; token: BootstrapToken; secret: V1Secret }
  /** `absent`: no Secret; `not-a-token`: a Secret of another type; `invalid`: a field does not parse. */
  | { found: false; why: 'absent' | 'not-a-token' | 'invalid'; field?: string };

export interface BootstrapTokensOptions {
  core: CoreV1Api;
  namespace: string;
  mayWrite?: () => boolean;
  onWrite?: (resource: string) => void;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Decoded string data of a Secret; values that are not text are dropped. */
function decodeData(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

export class BootstrapTokens {
  readonly #o: BootstrapTokensOptions;

  constructor(options: BootstrapTokensOptions) {
    this.#o = options;
  }

  get namespace(): string {
    return this.#o.namespace;
  }

  /** The token with this id, as stored now. `tokenId` was checked against its pattern by the caller. */
  async read(tokenId: string): Promise<TokenRead> {
    let secret: V1Secret;
    try {
      secret = await this.#o.core.readNamespacedSecret({ name: bootstrapSecretName(tokenId), namespace: this.#o.namespace });
    } catch (err) {
      if (isNotFound(err)) return { found: false, why: 'absent' };
      throw err;
    }
    if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE) return { found: false, why: 'not-a-token' };
    const parsed = parseBootstrapTokenData(decodeData(secret));
    if (!parsed.ok) return { found: false, why: 'invalid', field: parsed.field };
    return { found: true, token: parsed.token, secret };
  }

  /**
   * `n` more uses, written only if the Secret is still the version that was read: two leaders,
   * or two enrolments racing for the last use, cannot both count.
   */
  async countUses(read: Extract<TokenRead, { found: true }>, n: number): Promise<'counted' | 'conflict'> {
    if (this.#o.mayWrite && !this.#o.mayWrite()) throw new NotLeaderError('count a bootstrap token use');
    const { secret, token } = read;
    try {
      await this.#o.core.replaceNamespacedSecret({
        name: secret.metadata?.name ?? bootstrapSecretName(token.tokenId),
        namespace: this.#o.namespace,
        body: { ...secret, data: { ...secret.data, [BOOTSTRAP_TOKEN_KEYS.uses]: b64(String(token.uses + n)) } },
      });
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      throw err;
    }
    this.#o.onWrite?.('secrets');
    return 'counted';
  }
}
