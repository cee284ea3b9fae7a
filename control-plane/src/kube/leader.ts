// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// a follower takes the Lease only when the record it observed has not changed for a whole
// lease duration by its own clock, so clock skew between replicas does not matter; the
// leader steps down when it could not renew within the renew deadline.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeKubeError, isConflict, isNotFound } from './errors.ts';

/** client-node hands MicroTime fields back as strings despite their Date type. */
function timeOf(value: unknown): string {
  if (value instanceof Date) return String(value.getTime());
  return typeof value === 'string' ? String(Date.parse(value)) : '';
}

export interface LeaderElectorOptions {
  coordination: CoordinationV1Api;
  name: string;
  namespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  onLeaseWrite?: () => void;
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  #leading = false;
  #lastRenewMs = 0;
  #observedRecord = '';
  #observedAtMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #tick: Promise<void> = Promise.resolve();
  #transitions: Promise<void> = Promise.resolve();
  #holder = '';

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
  }

  /** Leading, and renewed within the renew deadline: safe to write. */
  isLeader(): boolean {
    return this.#leading && Date.now() - this.#lastRenewMs < this.#o.renewDeadlineMs;
  }

  /** The holder last seen in the Lease. */
  get holder(): string {
    return this.#holder;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops; a leader releases the Lease so another replica takes over at once. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    if (this.#leading && options.release !== false) await this.#release();
    this.#setLeading(false);
    await this.#transitions;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#attempt().finally(() => {
        // Followers jitter a little so two of them do not retry in lockstep.
        this.#schedule(this.#leading ? this.#o.retryPeriodMs : this.#o.retryPeriodMs * (1 + Math.random() * 0.2));
      });
    }, delayMs);
  }

  async #attempt(): Promise<void> {
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.log.warn({ lease: this.#leaseRef(), err: describeKubeError(err) }, 'lease request failed');
    }
    if (ok) {
      this.#lastRenewMs = Date.now();
      this.#setLeading(true);
    } else if (this.#leading && Date.now() - this.#lastRenewMs >= this.#o.renewDeadlineMs) {
      this.#o.log.warn({ lease: this.#leaseRef() }, 'could not renew the lease within the deadline; stepping down');
      this.#setLeading(false);
    } else if (this.#leading && this.#holder !== this.#o.identity) {
      this.#setLeading(false);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, name, namespace, identity } = this.#o;
    const now = Date.now();
    const durationSec = Math.ceil(this.#o.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSec, acquireTime: new V1MicroTime(now), renewTime: new V1MicroTime(now), leaseTransitions: 0 },
          },
        });
        this.#o.onLeaseWrite?.();
        this.#holder = identity;
        return true;
      } catch (createErr) {
        if (isConflict(createErr)) return false;
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    this.#holder = holder;
    const record = `${holder}|${timeOf(spec.renewTime)}|${spec.leaseTransitions ?? ''}`;
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAtMs = now;
    }
    const heldMs = (spec.leaseDurationSeconds ?? durationSec) * 1000;
    if (holder && holder !== identity && now < this.#observedAtMs + heldMs) return false;

    const mine = holder === identity;
    try {
      await coordination.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: durationSec,
            acquireTime: mine && spec.acquireTime ? spec.acquireTime : new V1MicroTime(now),
            renewTime: new V1MicroTime(now),
            leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
          },
        },
      });
      this.#o.onLeaseWrite?.();
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
    if (!mine) this.#o.log.info({ lease: this.#leaseRef(), previous: holder || null }, 'acquired the lease');
    this.#holder = identity;
    return true;
  }

  async #release(): Promise<void> {
    const { coordination, name, namespace, identity } = this.#o;
    try {
      const lease = await coordination.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await coordination.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime() } },
      });
      this.#o.onLeaseWrite?.();
      this.#o.log.info({ lease: this.#leaseRef() }, 'released the lease');
    } catch (err) {
      this.#o.log.warn({ lease: this.#leaseRef(), err: describeKubeError(err) }, 'could not release the lease');
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    const fn = leading ? this.#o.onStartedLeading : this.#o.onStoppedLeading;
    // Transitions run one after another, never interleaved.
    this.#transitions = this.#transitions.then(async () => {
      try {
        await fn();
      } catch (err) {
        this.#o.log.error({ err }, leading ? 'start of leadership failed' : 'end of leadership failed');
      }
    });
  }

  #leaseRef(): string {
    return `${this.#o.namespace}/${this.#o.name}`;
  }
}
