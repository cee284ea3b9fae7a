// Signs node credentials: a user JWT for the node's own public key, by the node role's scoped
// signing key, with a `serve:` tag per deployment its KV assignment names, an `escalate:` tag per
// escalation tier those deployments name, and a fixed lifetime.
import { issueNodeJwt, type TrustMaterial } from '@edgeplane/trust';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { credentialTagsOf, readAssignment } from './serve-tags.ts';

export interface NodeCredentialIssuerOptions {
  trust: TrustMaterial;
  kv: KV;
  ttlMs: number;
  log: Logger;
}

export class NodeCredentialIssuer {
  readonly #o: NodeCredentialIssuerOptions;

  constructor(options: NodeCredentialIssuerOptions) {
    this.#o = options;
  }

  /** The JWT for this node and key, entitled to what the node is assigned now. */
  async issue(node: string, publicKey: string): Promise<{ jwt: string; tags: string[] }> {
    const read = await readAssignment(this.#o.kv, node);
    // The control plane wrote that value; a broken one grants nothing rather than blocking the node.
    if (!read.ok) this.#o.log.error({ node, problem: read.problem }, 'assignment in KV does not parse; credential issued without serve or escalate tags');
    const tags = credentialTagsOf(read.ok ? read.assignment : null);
    const jwt = await issueNodeJwt(this.#o.trust, { node, userPublicKey: publicKey, tags, ttlS: Math.floor(this.#o.ttlMs / 1000) });
    return { jwt, tags };
  }
}
