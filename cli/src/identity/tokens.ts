// Bootstrap tokens as Secrets: create one (with the bearer JWT of its bootstrap user, which
// nats-server itself refuses after the token's expiry), list them, delete one.
import { randomInt } from 'node:crypto';
import {
  BOOTSTRAP_TOKEN_LABEL,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  TOKEN_ID_PATTERN,
  bootstrapSecretName,
  bootstrapTokenStringData,
  formatJoinToken,
  parseBootstrapTokenData,
  type BootstrapToken,
} from '@edgeplane/api';
import { issueBootstrapJwt, type TrustMaterial } from '@edgeplane/trust';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { IdentityError } from './errors.ts';
import { kubeError, kubeStatus } from './kube.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [a-z0-9], each uniformly random. */
export function randomToken(length: number, pick: (max: number) => number = randomInt): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[pick(ALPHABET.length)];
  return out;
}

export interface CreateTokenOptions {
  ttlMs: number;
  maxUses?: number;
  nodeNamePattern?: string;
  allowReenrollment?: boolean;
  description?: string;
  nowMs?: number;
}

export interface CreatedToken {
  token: BootstrapToken;
  joinToken: string;
  namespace: string;
  secretName: string;
}

function secretBody(namespace: string, token: BootstrapToken): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: bootstrapSecretName(token.tokenId), namespace, labels: { [BOOTSTRAP_TOKEN_LABEL]: 'true' } },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    stringData: bootstrapTokenStringData(token),
  };
}

export async function createToken(core: CoreV1Api, namespace: string, trust: TrustMaterial, o: CreateTokenOptions): Promise<CreatedToken> {
  // JWT expiry has second resolution: the token ends on a whole second, the JWT with it.
  const expiresAtS = Math.floor(((o.nowMs ?? Date.now()) + o.ttlMs) / 1000);
  // Ids are random: on the rare clash with an existing token, draw again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const token: BootstrapToken = {
      tokenId: randomToken(6),
      secret: randomToken(16),
      expiresAtMs: expiresAtS * 1000,
      uses: 0,
      allowReenrollment: o.allowReenrollment ?? false,
      ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
      ...(o.nodeNamePattern !== undefined ? { nodeNamePattern: o.nodeNamePattern } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
    };
    try {
      await core.createNamespacedSecret({ namespace, body: secretBody(namespace, token) });
    } catch (err) {
      if (kubeStatus(err) === 409) continue;
      throw kubeError(`create Secret ${namespace}/${bootstrapSecretName(token.tokenId)}`, err);
    }
    const jwt = await issueBootstrapJwt(trust, token.tokenId, expiresAtS);
    return { token, joinToken: formatJoinToken(token.tokenId, token.secret, jwt), namespace, secretName: bootstrapSecretName(token.tokenId) };
  }
  throw new IdentityError('KUBE', 'three random token ids were all taken; try again');
}

export type ListedToken = { name: string; token: BootstrapToken } | { name: string; problem: string };

export async function listTokens(core: CoreV1Api, namespace: string): Promise<ListedToken[]> {
  let items: V1Secret[];
  try {
    items = (await core.listNamespacedSecret({ namespace, fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` })).items;
  } catch (err) {
    throw kubeError(`list Secrets in ${namespace}`, err);
  }
  return items
    .map((s): ListedToken => {
      const name = s.metadata?.name ?? '?';
      const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      const parsed = parseBootstrapTokenData(data);
      return parsed.ok ? { name, token: parsed.token } : { name, problem: `${parsed.field}: ${parsed.message}` };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function deleteToken(core: CoreV1Api, namespace: string, tokenId: string): Promise<void> {
  if (!TOKEN_ID_PATTERN.test(tokenId)) throw new IdentityError('BAD_ARGUMENT', 'a token id is 6 characters of a-z and 0-9 (the part before the dot)');
  try {
    await core.deleteNamespacedSecret({ namespace, name: bootstrapSecretName(tokenId) });
  } catch (err) {
    throw kubeError(`delete token ${tokenId} in ${namespace}`, err);
  }
}
