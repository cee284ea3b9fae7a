// Watches this node's key in the `ep-assignments` KV bucket and hands each new, valid value
// to `onAssignment`, one at a time and in order.
//
// It is level-based, as controller-runtime is: a core subscription on the key's subject
// (`$KV.<bucket>.<node>`) only says "something changed", and the current value is then read
// with a KV get, so a notification missed during an outage costs nothing: every reconnect
// and a slow periodic resync read the key again. kv.watch() would do the same job over an
// ordered consumer, but that consumer's 5 s idle heartbeats (~150 bytes each) alone would
// use the whole 0.25 kbit/s budget of an idle node.
//
// An entry is known by its revision and the time the control plane issued it, not by the
// revision alone: a bucket rebuilt after JetStream lost its data numbers its revisions from 1
// again, so a new document can carry the revision of the one applied before it (or a lower one).
//
// With a replicated bucket every replica answers direct gets, including one that has not stored
// the write yet: a read that returns something older than the notification announced is read
// again a few times (the notification itself is never applied: a write the stream refused, such
// as an older leader's, is still delivered to subscribers).
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { Assignment, PROTOCOL_VERSION, decode } from '@edgeplane/api';
import { backoffMs, type BackoffOptions } from './backoff.ts';

export interface AssignmentWatchOptions {
  nc: NatsConnection;
  node: string;
  bucket: string;
  log: Logger;
  /** Applies an assignment; resolves once the change has started. */
  onAssignment(assignment: Assignment, revision: number): Promise<void>;
  /** Revision already applied (from disk), so it is not applied twice. */
  initialRevision?: number;
  /** `issuedAtMs` of the assignment applied from disk; without it that revision is applied again once. */
  initialIssuedAtMs?: number;
  /** Reads the key again this often even without a notification, ms. */
  resyncMs?: number;
  retry?: BackoffOptions;
  /** Re-reads after a read older than its notification (a lagging replica), ms each. */
  lagRetryMs?: readonly number[];
}

export interface AssignmentWatchStats {
  /** Values that did not parse, or named another node; each is ignored and the last good one stays. */
  malformed: number;
  applied: number;
  /** Reads or applies that failed (bucket missing, timeout); retried with backoff. */
  errors: number;
  revision: number;
  /** Values written under an older leader term than one already applied; each is ignored. */
  staleTerm: number;
  /** Reads that returned something older than their notification announced, each read again. */
  lagging: number;
}

/** What a change notification announces: the issue time of the value written, or a removal. */
export type Announced = { removed: true } | { removed: false; issuedAtMs: number };

/** Pure: what a `$KV.<bucket>.<key>` message announces, or null when it says nothing usable. */
export function announced(msg: Pick<Msg, 'headers' | 'data'>): Announced | null {
  const op = msg.headers?.get('KV-Operation');
  if (op === 'DEL' || op === 'PURGE') return { removed: true };
  try {
    const issuedAtMs = (JSON.parse(new TextDecoder().decode(msg.data)) as { issuedAtMs?: unknown }).issuedAtMs;
    return typeof issuedAtMs === 'number' && Number.isFinite(issuedAtMs) ? { removed: false, issuedAtMs } : null;
  } catch {
    return null;
  }
}

/** Pure: whether what was read is at least what was announced. */
export function caughtUp(want: Announced, read: { removed: boolean; issuedAtMs: number }): boolean {
  return want.removed ? read.removed : !read.removed && read.issuedAtMs >= want.issuedAtMs;
}

export interface AssignmentWatch {
  stats(): AssignmentWatchStats;
  /** Reads the key now (after a reconnect). */
  resync(): void;
  stop(): Promise<void>;
}

export function watchAssignment(opts: AssignmentWatchOptions): AssignmentWatch {
  const { nc, node, bucket, log } = opts;
  // Reads are one small request: after an outage (JetStream recovering its streams) the node
  // should pick up its desired state within seconds of the store answering again.
  const retry = opts.retry ?? { initialMs: 500, maxMs: 5_000 };
  const stats: AssignmentWatchStats = { malformed: 0, applied: 0, errors: 0, revision: opts.initialRevision ?? 0, staleTerm: 0, lagging: 0 };
  const lagRetryMs = opts.lagRetryMs ?? [100, 200, 400, 800];
  /** What the latest notification announced, until a read has caught up with it. */
  let want: Announced | null = null;
  let lagAttempts = 0;
  let lagTimer: NodeJS.Timeout | undefined;
  // Highest leader term applied: a control plane that lost its Lease may still land a write.
  let appliedTerm: number | undefined;
  let kv: KV | undefined;
  /** Identity (revision and issue time) of the entry last applied or set aside. */
  let seen = opts.initialIssuedAtMs !== undefined ? `${opts.initialRevision ?? 0}@${opts.initialIssuedAtMs}` : '';
  let stopped = false;
  let running: Promise<void> | null = null;
  let dirty = false;
  /** Generation of the latest read; an older one still waiting for its reply is ignored. */
  let gen = 0;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const read = async (myGen: number): Promise<void> => {
    // Direct get with the key in the subject: the only read a node's credential allows.
    kv ??= await new Kvm(nc).open(bucket, { allow_direct: true });
    const asked = want;
    const entry = await kv.get(node);
    // A newer read started (after a reconnect) and owns what is applied now.
    if (myGen !== gen) return;
    if (entry === null) {
      if (asked) checkCaughtUp(asked, { removed: true, issuedAtMs: 0 }, undefined);
      return;
    }
    let assignment: Assignment;
    if (entry.operation !== 'PUT') {
      // The control plane removed the key: this node should run nothing.
      assignment = { v: PROTOCOL_VERSION, node, workloads: [], issuedAtMs: entry.created.getTime() };
      if (asked) checkCaughtUp(asked, { removed: true, issuedAtMs: assignment.issuedAtMs }, entry.revision);
    } else {
      const decoded = decode(Assignment, 'assignment', entry.value);
      // What was read, against what was announced; a malformed value counts as the oldest.
      if (asked) checkCaughtUp(asked, { removed: false, issuedAtMs: decoded.ok ? decoded.value.issuedAtMs : 0 }, entry.revision);
      if (!decoded.ok || decoded.value.node !== node) {
        if (seen === `${entry.revision}@malformed`) return;
        seen = `${entry.revision}@malformed`;
        stats.malformed += 1;
        stats.revision = entry.revision;
        const issues = decoded.ok ? [{ path: 'node', message: `is ${decoded.value.node}` }] : decoded.error.issues;
        log.warn({ bucket, revision: entry.revision, issues, malformed: stats.malformed }, 'ignoring malformed assignment; keeping the last good one');
        return;
      }
      assignment = decoded.value;
      if (seen === `${entry.revision}@${assignment.issuedAtMs}`) return;
      const term = assignment.term;
      if (term !== undefined && appliedTerm !== undefined && term < appliedTerm) {
        stats.staleTerm += 1;
        seen = `${entry.revision}@${assignment.issuedAtMs}`;
        stats.revision = entry.revision;
        log.warn({ bucket, revision: entry.revision, term, appliedTerm }, 'ignoring an assignment from an older leader term; keeping the last good one');
        return;
      }
    }
    const id = `${entry.revision}@${assignment.issuedAtMs}`;
    if (id === seen) return;
    await opts.onAssignment(assignment, entry.revision);
    // Only once applied: a failed apply is retried on the next read.
    seen = id;
    if (assignment.term !== undefined) appliedTerm = Math.max(appliedTerm ?? 0, assignment.term);
    stats.revision = entry.revision;
    stats.applied += 1;
  };

  /** Reads again shortly when a replica answered with less than the notification announced. */
  const checkCaughtUp = (asked: Announced, read: { removed: boolean; issuedAtMs: number }, revision: number | undefined): void => {
    if (caughtUp(asked, read) || lagAttempts >= lagRetryMs.length) {
      if (want === asked) want = null;
      lagAttempts = 0;
      return;
    }
    stats.lagging += 1;
    const delay = lagRetryMs[lagAttempts++]!;
    log.debug({ bucket, revision, retryInMs: delay, lagging: stats.lagging }, 'read an older value than announced; reading again');
    clearTimeout(lagTimer);
    if (!stopped) lagTimer = setTimeout(() => schedule(), delay);
  };

  const run = async (myGen: number) => {
    do {
      dirty = false;
      try {
        await read(myGen);
        failures = 0;
      } catch (err) {
        if (myGen !== gen) return;
        stats.errors += 1;
        const delay = backoffMs(failures++, retry);
        log.warn({ bucket, err, retryInMs: delay }, 'cannot read or apply assignment');
        clearTimeout(retryTimer);
        if (!stopped) retryTimer = setTimeout(() => schedule(), delay);
        return;
      }
    } while (dirty && !stopped && myGen === gen);
  };

  /**
   * Reads now, or after the read in progress. `fresh` (a reconnect) starts a new read at once:
   * a request sent before the connection dropped gets no reply, and waiting out its timeout
   * (5 s) would leave a change made meanwhile unapplied that long.
   */
  function schedule(fresh = false) {
    if (stopped) return;
    if (running && !fresh) {
      dirty = true;
      return;
    }
    if (fresh) gen += 1;
    const current: Promise<void> = run(gen).finally(() => {
      if (running === current) running = null;
    });
    running = current;
  }

  const sub: Subscription = nc.subscribe(`$KV.${bucket}.${node}`, {
    callback: (_err, msg) => {
      const a = msg ? announced(msg) : null;
      if (a) {
        want = a;
        lagAttempts = 0;
      }
      schedule();
    },
  });
  const resyncTimer = setInterval(() => schedule(), opts.resyncMs ?? 10 * 60_000);
  resyncTimer.unref();
  schedule();

  return {
    stats: () => ({ ...stats }),
    resync: () => schedule(true),
    async stop() {
      stopped = true;
      clearInterval(resyncTimer);
      clearTimeout(retryTimer);
      clearTimeout(lagTimer);
      if (!nc.isClosed()) sub.unsubscribe();
      await running;
    },
  };
}
