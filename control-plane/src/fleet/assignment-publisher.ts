// Publishes each node's whole desired state to KV with compare-and-set on the revision:
// create when absent, update with the last revision seen, re-read when another writer
// got there first. An unchanged document is not written again.
//
// Writes to one node run one at a time, and the document is computed inside that turn (and
// again after a conflict) from the desired state as it is then. Two reconciles that touched
// the same node used to race: each computed the node's document before writing, the loser of
// the compare-and-set re-read and then wrote its older snapshot over the winner's, and the
// node lost a workload until the next resync (placements stuck at AwaitingAgent).
import { Assignment, decode, encode, type WorkloadAssignment } from '@edgeplane/api';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { AssignmentConflictError, NotLeaderError, StaleTermError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { forEachLimit } from '../reconcile/limit.ts';
import { assignmentDocument, workloadsFingerprint } from './assignment.ts';

/** `held`: the node is away (NotReady); its entry stays as it is until it returns. */
export type PublishOutcome = 'created' | 'updated' | 'unchanged' | 'held';

/** A node's workloads, or a function computing them when the write happens. */
export type DesiredWorkloads = readonly WorkloadAssignment[] | (() => readonly WorkloadAssignment[]);

export interface PublishOptions {
  /** Write even when KV already holds this content (a new revision makes the agent read again). */
  force?: boolean;
  /** Read the stored entry instead of trusting what this replica last wrote or read. */
  fresh?: boolean;
}

export interface SyncResult {
  /** Nodes compared: every node with a desired workload or a key in the bucket. */
  checked: number;
  /** Nodes whose entry differed (lost, stale, or holding workloads nobody wants) and was rewritten. */
  repaired: string[];
}

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export interface AssignmentPublisherOptions {
  kv: KV;
  metrics: Metrics;
  log: Logger;
  mayWrite?: () => boolean;
  maxAttempts?: number;
  /** Creates the bucket when it is gone (JetStream data lost); called before a sync. */
  ensureBucket?: () => Promise<void>;
  /** Writes in flight at once during a sync. */
  syncConcurrency?: number;
  /**
   * The leader's term (Lease transitions), undefined when not leading. Each document carries
   * it, and no write goes over an entry written under a newer term: with the compare-and-set
   * on the revision, a replica that lost the Lease cannot overwrite its successor's writes.
   */
  term?: () => number | undefined;
  /**
   * Nodes whose entry is left as it is for now: a node away keeps serving what it has (edge
   * autonomy) while replacements run elsewhere after its eviction delay, and gets its new entry
   * when it returns.
   */
  holds?: (node: string) => boolean;
}

interface Known {
  revision: number;
  fingerprint: string;
  /** Workload keys of the stored document, to compare with what the agent reports. */
  keys: readonly string[];
  /** Leader term of the stored document; undefined when written without one. */
  term?: number | undefined;
}

export class AssignmentPublisher {
  readonly #o: AssignmentPublisherOptions;
  /** Last revision and content per node, as this replica wrote or read it. */
  readonly #known = new Map<string, Known>();
  /** Tail of the writes queued per node. */
  readonly #chains = new Map<string, Promise<void>>();
  /** What a write skipped because the node was held would have written; written on return. */
  readonly #held = new Map<string, DesiredWorkloads>();

  constructor(options: AssignmentPublisherOptions) {
    this.#o = options;
  }

  /** Forget one node's cached revision (the node is gone). */
  forget(node: string): void {
    this.#known.delete(node);
  }

  /** Forget cached revisions, e.g. when leadership changes hands. */
  reset(): void {
    this.#known.clear();
    this.#held.clear();
  }

  /** Workload keys of the node's entry as last written or read here; undefined when unknown. */
  assignedKeys(node: string): readonly string[] | undefined {
    return this.#known.get(node)?.keys;
  }

  /** The node is back: writes what was held for it, if anything was. */
  release(node: string): Promise<PublishOutcome> {
    const desired = this.#held.get(node);
    if (desired === undefined) return Promise.resolve('unchanged');
    this.#o.log.debug({ node }, 'node returned: writing its held entry');
    return this.publish(node, desired);
  }

  /** Nodes whose entry this replica knows. */
  knownNodes(): string[] {
    return [...this.#known.keys()];
  }

  publish(node: string, desired: DesiredWorkloads, options: PublishOptions = {}): Promise<PublishOutcome> {
    return this.#serially(node, () => this.#publishNow(node, desired, options));
  }

  /**
   * Level-based repair: compares every node's desired workloads with its stored entry (read
   * from the store, not from this replica's memory) and rewrites what differs, so a lost key,
   * a failed write or a workload left on a node it moved from is fixed by one pass.
   */
  async sync(desiredNodes: Iterable<string>, desired: (node: string) => readonly WorkloadAssignment[]): Promise<SyncResult> {
    await this.#o.ensureBucket?.();
    const nodes = new Set(desiredNodes);
    for await (const key of await this.#o.kv.keys()) nodes.add(key);
    const repaired: string[] = [];
    await forEachLimit([...nodes].sort(), this.#o.syncConcurrency ?? 32, async (node) => {
      const outcome = await this.publish(node, () => desired(node), { fresh: true });
      if (outcome !== 'unchanged' && outcome !== 'held') repaired.push(node);
    });
    return { checked: nodes.size, repaired };
  }

  /** Runs fn after every earlier write to the node has settled. */
  #serially<T>(node: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#chains.get(node) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(node, tail);
    void tail.then(() => {
      if (this.#chains.get(node) === tail) this.#chains.delete(node);
    });
    return next;
  }

  async #publishNow(node: string, desired: DesiredWorkloads, options: PublishOptions): Promise<PublishOutcome> {
    const { kv, metrics } = this.#o;
    if (this.#o.holds?.(node)) {
      this.#held.set(node, desired);
      metrics.kvWrites.inc({ outcome: 'held' });
      this.#o.log.debug({ node }, 'node away: its entry is held until it returns');
      return 'held';
    }
    this.#held.delete(node);
    let force = options.force ?? false;
    let known = (!options.fresh && !force ? this.#known.get(node) : undefined) ?? (await this.#read(node));
    const attempts = this.#o.maxAttempts ?? 5;
    for (let i = 0; i < attempts; i++) {
      const workloads = typeof desired === 'function' ? desired() : desired;
      const fingerprint = workloadsFingerprint(workloads);
      // No entry and nothing to run: an absent key already means an empty assignment.
      if ((!force && known && known.fingerprint === fingerprint) || (!known && workloads.length === 0)) {
        metrics.kvWrites.inc({ outcome: 'unchanged' });
        return 'unchanged';
      }
      if (this.#o.mayWrite && !this.#o.mayWrite()) throw new NotLeaderError(`publish the assignment of ${node}`);
      const term = this.#fence(node, known);
      const doc = assignmentDocument(node, [...workloads], Date.now());
      const data = encode(Assignment, 'assignment', term === undefined ? doc : { ...doc, term });
      try {
        const revision = known ? await kv.update(node, data, known.revision) : await kv.create(node, data);
        this.#known.set(node, { revision, fingerprint, keys: workloads.map((w) => w.key), term });
        const outcome = known ? 'updated' : 'created';
        metrics.kvWrites.inc({ outcome });
        return outcome;
      } catch (err) {
        if (!isWrongLastSequence(err)) {
          // What the store holds is unknown now: read it before the next write.
          this.#known.delete(node);
          throw err;
        }
        metrics.kvWrites.inc({ outcome: 'conflict' });
        this.#o.log.debug({ node, attempt: i + 1 }, 'assignment revision moved; re-reading');
        // Another write gave the node a new revision already, so the agent reads again anyway.
        force = false;
        known = await this.#read(node);
      }
    }
    throw new AssignmentConflictError(node, attempts);
  }

  /**
   * The term to write under, after checking it against the entry the compare-and-set will
   * replace: no term while fenced means not leading; a newer stored term means superseded.
   */
  #fence(node: string, known: Known | undefined): number | undefined {
    if (!this.#o.term) return undefined;
    const term = this.#o.term();
    if (term === undefined) throw new NotLeaderError(`publish the assignment of ${node}`);
    if (known?.term !== undefined && known.term > term) {
      this.#o.metrics.kvWrites.inc({ outcome: 'stale_term' });
      throw new StaleTermError(`publish the assignment of ${node}`, term, known.term);
    }
    return term;
  }

  /** The stored revision and content; a deleted key or no key reads as absent. */
  async #read(node: string): Promise<Known | undefined> {
    const entry = await this.#o.kv.get(node);
    if (!entry || entry.operation !== 'PUT') {
      this.#known.delete(node);
      return undefined;
    }
    const decoded = decode(Assignment, 'assignment', entry.value);
    // Unreadable content is overwritten: fingerprint '' never equals a real one.
    const known = {
      revision: entry.revision,
      fingerprint: decoded.ok ? workloadsFingerprint(decoded.value.workloads) : '',
      keys: decoded.ok ? decoded.value.workloads.map((w) => w.key) : [],
      term: decoded.ok ? decoded.value.term : undefined,
    };
    this.#known.set(node, known);
    return known;
  }
}
