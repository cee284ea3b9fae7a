// Checks that each node runs what its KV entry says: when a heartbeating agent reports other
// workloads than its entry holds for longer than a few heartbeats, the entry is written again
// (a new revision, so the agent is notified and reads it). Whatever made the agent miss the
// entry (a notification lost in a reconnect, a read that failed), the next write reaches it.
// Leader only; it never unloads anything: it rewrites the entry the leader already holds.
import type { WorkloadAssignment, WorkloadReport } from '@edgeplane/api';
import type { Logger } from 'pino';
import type { AssignmentPublisher } from './assignment-publisher.ts';
import type { TelemetryStore } from './telemetry-store.ts';

/**
 * True when the agent's reported workload keys differ from the assigned ones. No report at all
 * (a flushed cache, deltas since) is unknown, not a disagreement: rewriting on it would change
 * KV revisions after every telemetry loss.
 */
export function disagrees(assigned: readonly string[], reported: readonly WorkloadReport[] | undefined): boolean {
  if (reported === undefined) return false;
  const have = new Set(reported.map((w) => w.key));
  if (have.size !== new Set(assigned).size) return true;
  return assigned.some((k) => !have.has(k));
}

export interface DeliveryCheckOptions {
  publisher: AssignmentPublisher;
  telemetry: Pick<TelemetryStore, 'readMany'>;
  /** The node's desired workloads now, written when it is re-published. */
  desired: (node: string) => readonly WorkloadAssignment[];
  log: Logger;
  /** Counts each re-publish. */
  onRepublish?: () => void;
  heartbeatIntervalMs: number;
  /** Heartbeats of disagreement before a re-publish. */
  graceHeartbeats?: number;
  /** Longest wait between two re-publishes of one node, ms. */
  maxBackoffMs?: number;
  now?: () => number;
}

interface Disagreement {
  /** The assigned keys it is about: a new assignment gives the agent a fresh grace. */
  assigned: string;
  sinceMs: number;
  republishes: number;
  nextMs: number;
}

export class DeliveryCheck {
  readonly #o: DeliveryCheckOptions;
  readonly #now: () => number;
  readonly #state = new Map<string, Disagreement>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #republished = 0;

  constructor(options: DeliveryCheckOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Entries written again because an agent disagreed with them. */
  get republished(): number {
    return this.#republished;
  }

  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.#running ??= this.check()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'delivery check failed'))
        .finally(() => (this.#running = null));
    }, this.#o.heartbeatIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
    this.#state.clear();
  }

  /** One pass over the nodes whose entry this replica knows. */
  async check(): Promise<void> {
    const o = this.#o;
    const nodes = o.publisher.knownNodes();
    const telemetry = await o.telemetry.readMany(nodes);
    const now = this.#now();
    const graceMs = (o.graceHeartbeats ?? 3) * o.heartbeatIntervalMs;
    for (const node of nodes) {
      const t = telemetry.get(node);
      const assigned = o.publisher.assignedKeys(node);
      // A silent node is the liveness monitor's business; it cannot disagree with anything.
      const live = t !== undefined && now - t.lastSeenMs <= 2 * o.heartbeatIntervalMs;
      // No workloads in the record (Redis lost it; a full heartbeat was asked for): unknown, not none.
      if (!live || assigned === undefined || t.workloads === undefined || !disagrees(assigned, t.workloads)) {
        this.#state.delete(node);
        continue;
      }
      const sig = assigned.join('\n');
      let s = this.#state.get(node);
      // While assignments change faster than heartbeats, the agent is behind, not stuck.
      if (!s || s.assigned !== sig) this.#state.set(node, (s = { assigned: sig, sinceMs: now, republishes: 0, nextMs: now + graceMs }));
      if (now < s.nextMs) continue;
      s.republishes += 1;
      // Backs off, so an agent that cannot apply its entry costs one write a minute, not a storm.
      s.nextMs = now + Math.min(graceMs * 2 ** s.republishes, o.maxBackoffMs ?? 60_000);
      try {
        await o.publisher.publish(node, () => o.desired(node), { force: true });
        this.#republished += 1;
        o.onRepublish?.();
        o.log.warn({ node, assigned: assigned.length, reported: t.workloads?.length ?? 0, disagreeingMs: now - s.sinceMs, republishes: s.republishes }, 'agent reports other workloads than its assignment; assignment written again');
      } catch (err) {
        o.log.warn({ node, err }, 'assignment not written again; retrying on a later check');
      }
    }
    const known = new Set(nodes);
    for (const node of this.#state.keys()) if (!known.has(node)) this.#state.delete(node);
  }
}
