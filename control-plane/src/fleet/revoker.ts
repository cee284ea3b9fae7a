// Revokes node keys in the fleet account, leader only. Events (an EdgeNode deleted, the revoke
// marker set, a key replaced by re-enrolment) revoke at once; on taking the lead and on every
// resync, each EdgeNode carrying the marker is revoked again if the account lacks it
// (level-based, idempotent). Pushes are serialised, verified by reading the account back, and
// retried with backoff until the server holds what was asked. The same pass compares the rest of
// the account JWT with what this control plane signs (the node role's permissions above all):
// a server preloaded from an older `nats-trust.conf` is pushed the current JWT, revocations kept.
import { nodeIdentityOf, type EdgeNode, type NodeIdentity } from '@edgeplane/api';
import type { Revocations } from '@edgeplane/trust';
import type { Logger } from 'pino';
import { AccountUpdateError } from '../errors.ts';
import type { CacheEventType, ResourceInformer } from '../kube/informers.ts';
import type { Metrics } from '../metrics.ts';
import type { FleetAccountState } from './account-claims.ts';
import type { KeyRevoker } from './enroll.ts';
import { applyRevocations, markedKeys, sameRevocations, unmetWants, type RevocationWant } from './revocations.ts';

export interface AccountRevocations {
  /** The server's revocations, and how the rest of its account JWT differs from ours. */
  current(): Promise<FleetAccountState>;
  /** Replaces the account JWT with this control plane's, carrying exactly these revocations. */
  push(revocations: Revocations): Promise<void>;
}

export interface RevokerOptions {
  /** Every EdgeNode, whatever labels it carries: a relabelled node is not a deleted one. */
  nodes: ResourceInformer<EdgeNode>;
  claims: AccountRevocations;
  metrics: Metrics;
  log: Logger;
  resyncMs: number;
  retentionS?: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 60_000;
const nowS = () => Math.floor(Date.now() / 1000);

export class Revoker implements KeyRevoker {
  readonly #o: RevokerOptions;
  readonly #known = new Map<string, NodeIdentity>();
  readonly #wants = new Map<string, RevocationWant>();
  #leading = false;
  #flushing: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #resync: NodeJS.Timeout | undefined;
  /** The drift last logged, so a server that keeps an old JWT is not logged on every retry. */
  #driftLogged = '';

  constructor(options: RevokerOptions) {
    this.#o = options;
    options.nodes.on((type, name, obj) => this.#onNode(type, name, obj));
  }

  start(): void {
    if (this.#leading) return;
    this.#leading = true;
    this.#retryMs = RETRY_MIN_MS;
    this.#driftLogged = '';
    this.#levelPass();
    this.#resync = setInterval(() => this.#levelPass(), this.#o.resyncMs);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    this.#leading = false;
    clearInterval(this.#resync);
    clearTimeout(this.#retry);
    await this.#flushing;
    // The next leader starts from the markers; what was pending here is its to redo.
    this.#wants.clear();
  }

  /** Revokes a key now (an event): credentials issued for it up to this second are refused. */
  revoke(publicKey: string, context: { node: string; why: string }): void {
    if (!this.#leading) return;
    this.#o.log.info({ node: context.node, key: publicKey, why: context.why }, 'revoking node key');
    this.#want(publicKey, { atS: nowS(), ifMissing: false });
    this.#schedule();
  }

  /** Settles once every revocation asked for so far is held by the server (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #onNode(type: CacheEventType, name: string, obj: EdgeNode): void {
    const prev = this.#known.get(name);
    const id = nodeIdentityOf(obj.metadata);
    if (type === 'delete') {
      this.#known.delete(name);
      const key = id.publicKey ?? prev?.publicKey;
      if (key) this.revoke(key, { node: name, why: 'EdgeNode deleted' });
      return;
    }
    this.#known.set(name, id);
    if (id.revoked && id.publicKey && !(prev?.revoked && prev.publicKey === id.publicKey)) {
      this.revoke(id.publicKey, { node: name, why: 'revoke marker set' });
    }
    if (prev?.publicKey && prev.publicKey !== id.publicKey) this.revoke(prev.publicKey, { node: name, why: 'key replaced' });
  }

  #levelPass(): void {
    if (!this.#leading) return;
    const at = nowS();
    const ids = this.#o.nodes.list().map((n) => nodeIdentityOf(n.metadata));
    for (const key of markedKeys(ids)) this.#want(key, { atS: at, ifMissing: true });
    // Even with nothing to add, a pass prunes what no longer revokes anything.
    this.#schedule();
  }

  #want(key: string, want: RevocationWant): void {
    const have = this.#wants.get(key);
    // An event's time wins over a level want; a later event's over an earlier one.
    if (!have || (have.ifMissing && !want.ifMissing) || (!want.ifMissing && want.atS > have.atS)) this.#wants.set(key, want);
  }

  #schedule(): void {
    if (!this.#leading) return;
    if (this.#flushing) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#retry);
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
    });
  }

  async #flush(): Promise<void> {
    do {
      this.#again = false;
      const wants = new Map(this.#wants);
      try {
        const { revocations: current, drift } = await this.#o.claims.current();
        const next = applyRevocations(current, wants, nowS(), this.#o.retentionS);
        if (drift.length && drift.join() !== this.#driftLogged) {
          this.#driftLogged = drift.join();
          this.#o.log.info({ differs: drift, reason: `the server's fleet account JWT differs from this control plane's in: ${drift.join(', ')}` }, 'pushing the fleet account JWT, revocations kept');
        }
        if (drift.length || !sameRevocations(current, next)) {
          await this.#o.claims.push(next);
          // A server whose copy is newer than ours keeps it and still says "updated": read back.
          const after = await this.#o.claims.current();
          const unmet = unmetWants(after.revocations, wants);
          if (unmet.length) throw new AccountUpdateError(`the server kept an account without ${unmet.length} of the revocations pushed`);
          if (after.drift.length) throw new AccountUpdateError(`the server kept a fleet account JWT that differs in: ${after.drift.join(', ')}`);
          this.#o.metrics.revocationPushes.inc({ outcome: 'pushed' });
          this.#o.metrics.revokedKeys.set(Object.keys(after.revocations).length);
          this.#o.log.info({ revoked: Object.keys(after.revocations).length, added: Object.keys(next).filter((k) => current[k] !== next[k]).length }, 'fleet account revocations pushed');
        } else {
          this.#o.metrics.revokedKeys.set(Object.keys(current).length);
        }
        for (const [key, want] of wants) if (this.#wants.get(key) === want) this.#wants.delete(key);
        this.#retryMs = RETRY_MIN_MS;
      } catch (err) {
        this.#o.metrics.revocationPushes.inc({ outcome: 'failed' });
        this.#o.log.error({ err, pending: this.#wants.size, retryInMs: this.#retryMs }, 'cannot update the fleet account revocations; will retry');
        if (this.#leading) {
          this.#retry = setTimeout(() => this.#schedule(), this.#retryMs);
          this.#retry.unref();
          this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
        }
        return;
      }
    } while (this.#again && this.#leading);
  }
}
