// The node's identity while it runs: the current credential (read by the connection's
// authenticator on every connect and reconnect), renewal before expiry and on demand, and the
// per-deployment inference grants the serving side asks for before it subscribes (and before it
// sends a hard input to an escalation tier).
import type { Authenticator, NatsConnection, Status } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { signNonce } from '@edgeplane/trust';
import type { ServeGrant } from '../serve/nats.ts';
import { saveCredentials, type NodeCredentials } from './creds-store.ts';
import { hasEscalateGrant, hasServeGrant, isNodeCredential, type DeploymentRef } from './grants.ts';
import { isRenewRefusedError } from './errors.ts';
import { renewOnce } from './renew.ts';
import { isExpired, renewDelayMs, renewRetryDelayMs } from './renewal-timing.ts';

export interface NodeIdentityOptions {
  node: string;
  /** Where a renewed credential is written (`nats.creds`). */
  stateDir: string;
  log: Logger;
  credentials: NodeCredentials;
  /** Waiting for the control plane's answer, ms. */
  renewTimeoutMs?: number;
  /** Waiting for the reconnect with the renewed credential, ms. */
  reconnectTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface IdentityStats {
  renewals: number;
  renewFailures: number;
  /** Code of the last failed renewal, null after a success. */
  lastFailure: string | null;
  expiresAtS: number | null;
  tags: string[];
}

/** setTimeout's ceiling; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Forces a reconnect and resolves once it happened (true) or `timeoutMs` passed (false). */
export async function reconnectWith(nc: NatsConnection, timeoutMs: number): Promise<boolean> {
  const it = nc.status() as AsyncIterable<Status> & { stop(): void };
  const reconnected = (async () => {
    for await (const s of it) if (s.type === 'reconnect') return true;
    return false;
  })();
  let timer: NodeJS.Timeout | undefined;
  try {
    await nc.reconnect();
    return await Promise.race([reconnected, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    it.stop();
  }
}

export class NodeIdentity implements ServeGrant {
  readonly node: string;
  readonly #o: NodeIdentityOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #current: NodeCredentials;
  #nc: NatsConnection | null = null;
  #renewing: Promise<boolean> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  /** What the control plane asked for with its last refusal, ms. */
  #retryAfterMs: number | undefined;
  #closed = false;
  readonly #listeners = new Set<() => void>();
  readonly #stats = { renewals: 0, renewFailures: 0, lastFailure: null as string | null };

  constructor(o: NodeIdentityOptions) {
    this.node = o.node;
    this.#o = o;
    this.#log = o.log.child({ component: 'identity' });
    this.#now = o.now ?? Date.now;
    this.#current = o.credentials;
  }

  get publicKey(): string {
    return this.#current.claims.subject;
  }

  get tags(): readonly string[] {
    return this.#current.claims.tags;
  }

  /** A credential issued to this node carries grants; a shared one (another name) is not gated. */
  get gated(): boolean {
    return isNodeCredential(this.#current.claims.name, this.node);
  }

  /**
   * For the connection: reads the current credential each time nats.js (re)connects, and
   * signs the server's nonce with it (natively; what jwtAuthenticator sends, for less CPU).
   */
  authenticator(): Authenticator {
    return (nonce?: string) => ({ jwt: this.#current.jwt, ...signNonce(this.#current.seed, nonce) });
  }

  /** The connection renewals go over (and are applied to); starts the expiry schedule. */
  attach(nc: NatsConnection): void {
    this.#nc = nc;
    if (isExpired(this.#current.claims, this.#now())) {
      this.#log.error({ expiresAtS: this.#current.claims.expiresAtS }, 'the node credential has expired: the server refuses it and it cannot be renewed; enrol again with a new bootstrap token');
    }
    this.#schedule();
  }

  hasServeGrant(d: DeploymentRef): boolean {
    return !this.gated || hasServeGrant(this.#current.claims.tags, d);
  }

  /**
   * True once the current credential may serve the deployment. Without the grant it asks for a
   * renewal (the control plane signs the tags of the node's assignment) and checks again; a
   * renewal already under way is waited for first, since it may have been asked before this
   * deployment was assigned.
   */
  async ensure(d: DeploymentRef): Promise<boolean> {
    if (this.hasServeGrant(d)) return true;
    if (this.#renewing) {
      await this.#renewing;
      if (this.hasServeGrant(d)) return true;
    }
    await this.renew(`serve ${d.namespace}/${d.deployment}`);
    return this.hasServeGrant(d);
  }

  /** Whether the current credential lets this node send requests to the deployment (an escalation tier). */
  hasEscalateGrant(d: DeploymentRef): boolean {
    return !this.gated || hasEscalateGrant(this.#current.claims.tags, d);
  }

  /**
   * True once the current credential may escalate to the deployment: as `ensure`, the same
   * renewal (the control plane signs the `escalate:` tags of the node's assignment).
   */
  async ensureEscalate(d: DeploymentRef): Promise<boolean> {
    if (this.hasEscalateGrant(d)) return true;
    if (this.#renewing) {
      await this.#renewing;
      if (this.hasEscalateGrant(d)) return true;
    }
    await this.renew(`escalate to ${d.namespace}/${d.deployment}`);
    return this.hasEscalateGrant(d);
  }

  onRenewed(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Renews now (one renewal at a time; callers during one share it). True when renewed and reconnected. */
  renew(reason: string): Promise<boolean> {
    this.#renewing ??= this.#renewOnce(reason).finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  stats(): IdentityStats {
    return { ...this.#stats, expiresAtS: this.#current.claims.expiresAtS, tags: [...this.#current.claims.tags] };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }

  async #renewOnce(reason: string): Promise<boolean> {
    const nc = this.#nc;
    if (this.#closed || !nc || nc.isClosed()) return false;
    const before = this.#current;
    try {
      const issued = await renewOnce(nc, this.node, before.claims.subject, this.#o.renewTimeoutMs ?? 10_000);
      if (this.#closed) return false;
      try {
        await saveCredentials(this.#o.stateDir, issued.jwt, before.seed);
      } catch (err) {
        this.#log.error({ err, stateDir: this.#o.stateDir }, 'renewed credential not saved; it is used now, a restart falls back to the previous one');
      }
      this.#current = { jwt: issued.jwt, seed: before.seed, claims: issued.claims };
      this.#stats.renewals += 1;
      this.#stats.lastFailure = null;
      this.#failures = 0;
      this.#log.info({ reason, expiresAtS: issued.claims.expiresAtS, tags: issued.claims.tags }, 'credential renewed; reconnecting with it');
      const timeoutMs = this.#o.reconnectTimeoutMs ?? 30_000;
      if (!(await reconnectWith(nc, timeoutMs))) this.#log.warn({ timeoutMs }, 'not reconnected with the renewed credential yet; the connection keeps trying');
      this.#schedule();
      for (const cb of [...this.#listeners]) cb();
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.#retryAfterMs = isRenewRefusedError(err) ? err.retryAfterMs : undefined;
      this.#stats.renewFailures += 1;
      this.#stats.lastFailure = typeof code === 'string' ? code : 'ERROR';
      this.#log.warn({ err, code, reason, expiresAtS: before.claims.expiresAtS }, 'credential renewal failed');
      this.#scheduleRetry();
      return false;
    }
  }

  /** Next renewal for age: at two thirds of the credential's lifetime. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    const delay = renewDelayMs(this.#current.claims, this.#now());
    if (delay === null) return;
    this.#timer = setTimeout(() => this.#onTimer(), Math.min(delay, MAX_TIMER_MS));
    this.#timer.unref();
  }

  /** After a failure: retry soon only when renewal for age is due; otherwise keep the schedule. */
  #scheduleRetry(): void {
    if (this.#closed) return;
    if (renewDelayMs(this.#current.claims, this.#now()) !== 0) return this.#schedule();
    clearTimeout(this.#timer);
    const delay = Math.max(this.#retryAfterMs ?? 0, renewRetryDelayMs(this.#failures++, this.#current.claims, this.#now(), this.#o.random));
    this.#timer = setTimeout(() => this.#onTimer(), delay);
    this.#timer.unref();
  }

  #onTimer(): void {
    // A wait longer than a timer can hold comes back early: wait the rest.
    if ((renewDelayMs(this.#current.claims, this.#now()) ?? 0) > 0) return this.#schedule();
    void this.renew('expiry');
  }
}
