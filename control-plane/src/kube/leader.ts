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
// - the term (leaseTransitions of the held Lease) fences writes made under it;
// - a leader renews with one call, an update of the Lease as its own last write left it (the
//   resourceVersion makes the server refuse it if anyone wrote since; then it reads as a
//   follower would), and each renew starts a retry period after the previous one was *sent*:
//   on a slow API server a read plus an update, each a retry period after the last one ended,
//   left too little of the renew deadline and a busy leader stepped down with every renew
//   answered.
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
  /** The Lease as this replica's last successful write left it; a leader renews from it. */
  #written: V1Lease | undefined;
  /** Monotonic time the next attempt was due, and how late the last one started (timer lag). */
  #dueMs = 0;
  #lateMs = 0;
  /** Monotonic time the last attempt was sent, and how long it took. */
  #attemptSentMs = 0;
  #attemptMs = 0;

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
    this.#dueMs = this.#now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#lateMs = Math.max(0, this.#now() - this.#dueMs);
      this.#tick = this.#attempt().finally(() => {
        // A leader's renews are a retry period apart from send to send, back to back when one
        // took longer; followers jitter a little so two of them do not retry in lockstep.
        this.#schedule(
          this.#leading ? Math.max(0, this.#attemptSentMs + this.#o.retryPeriodMs - this.#now()) : this.#o.retryPeriodMs * (1 + Math.random() * 0.2),
        );
      });
    }, delayMs);
  }

  async #attempt(): Promise<void> {
    if (this.#now() < this.#holdOffUntilMs) return;
    if (this.#leading && !this.#withinDeadline()) this.#stepDown('could not renew the lease within the deadline; stepping down');
    const sentMs = this.#now();
    this.#attemptSentMs = sentMs;
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.log.warn({ lease: this.#leaseRef(), err: describeKubeError(err), ...this.#timing(), attemptMs: Math.round(this.#now() - sentMs) }, 'lease request failed');
    } finally {
      this.#attemptMs = this.#now() - sentMs;
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
    const dueMs = this.#now() + Math.max(0, left) + 1;
    this.#deadlineTimer = setTimeout(() => {
      if (this.#leading && !this.#withinDeadline()) this.#stepDown('could not renew the lease within the deadline; stepping down', { deadlineTimerLateMs: Math.round(this.#now() - dueMs) });
    }, Math.max(0, left) + 1);
  }

  #stepDown(message: string, detail: Record<string, number> = {}): void {
    if (!this.#leading) return;
    this.#o.log.warn({ lease: this.#leaseRef(), term: this.#term, holdOffMs: this.#o.leaseDurationMs, ...this.#timing(), ...detail }, message);
    // Its calls are not getting through in time: the others get the first chance to take over.
    this.#holdOffUntilMs = this.#now() + this.#o.leaseDurationMs;
    this.#written = undefined;
    this.#setLeading(false);
  }

  /**
   * Where the renew deadline went, for the log: since the last successful renew was sent, how
   * long the last finished attempt took (mostly the API server), and how late the timer of the
   * latest one fired (this process's event loop).
   */
  #timing(): { sinceRenewSentMs: number; lastAttemptMs: number; timerLateMs: number } {
    const now = this.#now();
    return { sinceRenewSentMs: Math.round(now - this.#renewSentMs), lastAttemptMs: Math.round(this.#attemptMs || now - this.#attemptSentMs), timerLateMs: Math.round(this.#lateMs) };
  }

  /**
   * One update of the Lease as this replica last wrote it: true when renewed, false when someone
   * wrote it since (the server refused the stale resourceVersion), so the caller reads it.
   */
  async #renew(written: V1Lease, wall: number, durationSec: number): Promise<boolean> {
    try {
      const stored = await this.#lease.replace(
        { ...written, spec: { ...written.spec, holderIdentity: this.#o.identity, leaseDurationSeconds: durationSec, renewTime: new V1MicroTime(wall) } },
        this.#callTimeoutMs(),
      );
      this.#o.onLeaseWrite?.();
      this.#written = stored;
      return true;
    } catch (err) {
      // A renew that timed out may still have landed: its resourceVersion is then stale too.
      this.#written = undefined;
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { identity } = this.#o;
    const wall = this.#clock.wallMs();
    const durationSec = Math.ceil(this.#o.leaseDurationMs / 1000);
    const written = this.#leading ? this.#written : undefined;
    if (written && (await this.#renew(written, wall, durationSec))) return true;
    let lease: V1Lease;
    try {
      lease = await this.#lease.read(this.#callTimeoutMs());
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const term = (await this.#o.initialTerm?.()) ?? 0;
      try {
        this.#written = await this.#lease.create(
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
      this.#written = await this.#lease.replace(
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
      this.#written = undefined;
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
