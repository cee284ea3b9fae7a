// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - every timing decision uses a monotonic clock; the wall clock only fills the Lease's
//   informational renewTime and acquireTime, so a clock step changes nothing;
// - a follower takes the Lease only when the record it observed has not changed for a whole
//   lease duration by its own clock, so clock skew between replicas does not matter;
// - the leader acts only until the renew deadline counted from the moment it *sent* its last
//   successful renew (a reply delayed in transit does not extend it), and every Lease call has
//   a timeout within that deadline; since renewDeadline < leaseDuration, it stops acting before
//   any follower may take over;
// - a replica whose start of leadership fails releases the Lease and holds off for a lease
//   duration rather than holding it without acting;
// - the term (leaseTransitions of the held Lease) fences writes made under it.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeKubeError, isConflict, isNotFound } from './errors.ts';
import { LeaseClient } from './lease-client.ts';

/** client-node hands MicroTime fields back as strings despite their Date type. */
function timeOf(value: unknown): string {
  if (value instanceof Date) return String(value.getTime());
  return typeof value === 'string' ? String(Date.parse(value)) : '';
}

/** Time sources: the monotonic one decides, the wall one is only written into the Lease. */
export interface ElectionClock {
  monotonicMs(): number;
  wallMs(): number;
}

export const systemClock: ElectionClock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};

export interface LeaderElectorOptions {
  coordination: CoordinationV1Api;
  name: string;
  namespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  /** Runs when this replica starts leading; a throw releases the Lease. */
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  onLeaseWrite?: () => void;
  clock?: ElectionClock;
  /** Upper bound of one Lease API call, ms; half the renew deadline by default. */
  apiTimeoutMs?: number;
  /**
   * The term a newly created Lease starts at: at least every term already written under an
   * earlier Lease of the same name, so fenced writes keep working after the Lease is deleted.
   */
  initialTerm?: () => Promise<number>;
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #lease: LeaseClient;
  readonly #clock: ElectionClock;
  #leading = false;
  /** Monotonic time the last successful acquire or renew was sent. */
  #renewSentMs = 0;
  #term: number | undefined;
  #observedRecord = '';
  #observedAtMs = 0;
  /** After a failed start: no acquire or renew before this monotonic time. */
  #holdOffUntilMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #stopped = true;
  #tick: Promise<void> = Promise.resolve();
  #transitions: Promise<void> = Promise.resolve();
  #holder = '';

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#lease = new LeaseClient(options.coordination, { name: options.name, namespace: options.namespace });
  }

  /** Leading, and within the renew deadline of the last renew sent: safe to write. */
  isLeader(): boolean {
    return this.#leading && this.#withinDeadline();
  }

  /** The term this replica leads in (the Lease's transitions), or undefined when not leading. */
  term(): number | undefined {
    return this.isLeader() ? this.#term : undefined;
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
    clearTimeout(this.#deadlineTimer);
    await this.#tick;
    if (this.#leading && options.release !== false) await this.#release();
    this.#setLeading(false);
    await this.#transitions;
  }

  #now(): number {
    return this.#clock.monotonicMs();
  }

  #withinDeadline(): boolean {
    return this.#now() - this.#renewSentMs < this.#o.renewDeadlineMs;
  }

  /** Time left for a Lease call: never past the renew deadline while leading. */
  #callTimeoutMs(): number {
    const cap = this.#o.apiTimeoutMs ?? this.#o.renewDeadlineMs / 2;
    if (!this.#leading) return cap;
    return Math.min(cap, this.#renewSentMs + this.#o.renewDeadlineMs - this.#now());
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
    if (this.#now() < this.#holdOffUntilMs) return;
    if (this.#leading && !this.#withinDeadline()) this.#stepDown('could not renew the lease within the deadline; stepping down');
    const sentMs = this.#now();
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.log.warn({ lease: this.#leaseRef(), err: describeKubeError(err) }, 'lease request failed');
    }
    if (this.#stopped) return;
    // A reply that arrives after the deadline of its own request grants nothing, and a failed
    // start holds off even a renew that was already in flight.
    if (ok && this.#now() - sentMs < this.#o.renewDeadlineMs && this.#now() >= this.#holdOffUntilMs) {
      this.#renewSentMs = sentMs;
      this.#armDeadline();
      this.#setLeading(true);
    } else if (this.#leading && this.#holder !== this.#o.identity) {
      this.#stepDown('another replica holds the lease; stepping down');
    } else if (this.#leading && !this.#withinDeadline()) {
      this.#stepDown('could not renew the lease within the deadline; stepping down');
    }
  }

  /** Stops acting the moment the renew deadline passes, without waiting for the next attempt. */
  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const left = this.#renewSentMs + this.#o.renewDeadlineMs - this.#now();
    this.#deadlineTimer = setTimeout(() => {
      if (this.#leading && !this.#withinDeadline()) this.#stepDown('could not renew the lease within the deadline; stepping down');
    }, Math.max(0, left) + 1);
  }

  #stepDown(message: string): void {
    if (!this.#leading) return;
    this.#o.log.warn({ lease: this.#leaseRef(), term: this.#term, holdOffMs: this.#o.leaseDurationMs }, message);
    // Its calls are not getting through in time: the others get the first chance to take over.
    this.#holdOffUntilMs = this.#now() + this.#o.leaseDurationMs;
    this.#setLeading(false);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { identity } = this.#o;
    const wall = this.#clock.wallMs();
    const durationSec = Math.ceil(this.#o.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.#lease.read(this.#callTimeoutMs());
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const term = (await this.#o.initialTerm?.()) ?? 0;
      try {
        await this.#lease.create(
          {
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSec, acquireTime: new V1MicroTime(wall), renewTime: new V1MicroTime(wall), leaseTransitions: term },
          },
          this.#callTimeoutMs(),
        );
        this.#o.onLeaseWrite?.();
        this.#holder = identity;
        this.#term = term;
        this.#o.log.info({ lease: this.#leaseRef(), term }, 'created and acquired the lease');
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
      // Observed once the read answered: a follower's wait starts no earlier than the change.
      this.#observedAtMs = this.#now();
    }
    const heldMs = (spec.leaseDurationSeconds ?? durationSec) * 1000;
    // Only an acting leader renews. A replica that stepped down treats a Lease still naming it
    // like anyone's: it lets it expire and takes a new term, so a renew of its that landed
    // unanswered does not keep the Lease from the others.
    const mine = holder === identity && this.#leading;
    if (holder && !mine && this.#now() < this.#observedAtMs + heldMs) return false;

    const term = mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1;
    try {
      await this.#lease.replace(
        {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: durationSec,
            acquireTime: mine && spec.acquireTime ? spec.acquireTime : new V1MicroTime(wall),
            renewTime: new V1MicroTime(wall),
            leaseTransitions: term,
          },
        },
        this.#callTimeoutMs(),
      );
      this.#o.onLeaseWrite?.();
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
    if (!mine) this.#o.log.info({ lease: this.#leaseRef(), previous: holder || null, term }, 'acquired the lease');
    this.#holder = identity;
    this.#term = term;
    return true;
  }

  async #release(): Promise<void> {
    const { identity } = this.#o;
    try {
      const timeoutMs = this.#o.apiTimeoutMs ?? this.#o.renewDeadlineMs / 2;
      const lease = await this.#lease.read(timeoutMs);
      if (lease.spec?.holderIdentity !== identity) return;
      await this.#lease.replace(
        { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.#clock.wallMs()) } },
        timeoutMs,
      );
      this.#o.onLeaseWrite?.();
      this.#o.log.info({ lease: this.#leaseRef() }, 'released the lease');
    } catch (err) {
      this.#o.log.warn({ lease: this.#leaseRef(), err: describeKubeError(err) }, 'could not release the lease');
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (!leading) clearTimeout(this.#deadlineTimer);
    // Transitions run one after another, never interleaved.
    this.#transitions = this.#transitions.then(async () => {
      if (!leading) return this.#runStopped();
      // Stepped down again before this start ran: nothing to start.
      if (!this.#leading) return;
      try {
        await this.#o.onStartedLeading();
      } catch (err) {
        await this.#startFailed(err);
      }
    });
  }

  async #runStopped(): Promise<void> {
    try {
      await this.#o.onStoppedLeading();
    } catch (err) {
      this.#o.log.error({ err, lease: this.#leaseRef() }, 'end of leadership failed');
    }
  }

  /** A leader that cannot act must not hold the Lease: undo the start, release, hold off. */
  async #startFailed(err: unknown): Promise<void> {
    this.#o.log.error({ err, lease: this.#leaseRef(), holdOffMs: this.#o.leaseDurationMs }, 'start of leadership failed; releasing the lease');
    this.#holdOffUntilMs = this.#now() + this.#o.leaseDurationMs;
    this.#leading = false;
    clearTimeout(this.#deadlineTimer);
    await this.#runStopped();
    // The tick in flight may have renewed meanwhile; wait for it so the release comes last.
    await this.#tick;
    await this.#release();
  }

  #leaseRef(): string {
    return `${this.#o.namespace}/${this.#o.name}`;
  }
}
