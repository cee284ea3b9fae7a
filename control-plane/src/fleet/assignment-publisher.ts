// Publishes each node's whole desired state to KV with compare-and-set on the revision:
// create when absent, update with the last revision seen, re-read when another writer
// got there first. An unchanged document is not written again.
import { Assignment, decode, encode, type WorkloadAssignment } from '@edgeplane/api';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { AssignmentConflictError, NotLeaderError, StaleTermError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { assignmentDocument, workloadsFingerprint } from './assignment.ts';

export type PublishOutcome = 'created' | 'updated' | 'unchanged';

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
  /**
   * The leader's term (Lease transitions), undefined when not leading. Each document carries
   * it, and no write goes over an entry written under a newer term: with the compare-and-set
   * on the revision, a replica that lost the Lease cannot overwrite its successor's writes.
   */
  term?: () => number | undefined;
}

interface Known {
  revision: number;
  fingerprint: string;
  /** Leader term of the stored document; undefined when written without one. */
  term?: number | undefined;
}

export class AssignmentPublisher {
  readonly #o: AssignmentPublisherOptions;
  /** Last revision and content per node, as this replica wrote or read it. */
  readonly #known = new Map<string, Known>();

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
  }

  async publish(node: string, workloads: WorkloadAssignment[]): Promise<PublishOutcome> {
    const { kv, metrics } = this.#o;
    const fingerprint = workloadsFingerprint(workloads);
    let known = this.#known.get(node) ?? (await this.#read(node));
    const attempts = this.#o.maxAttempts ?? 5;
    for (let i = 0; i < attempts; i++) {
      if (known && known.fingerprint === fingerprint) {
        metrics.kvWrites.inc({ outcome: 'unchanged' });
        return 'unchanged';
      }
      if (this.#o.mayWrite && !this.#o.mayWrite()) throw new NotLeaderError(`publish the assignment of ${node}`);
      const term = this.#fence(node, known);
      const doc = assignmentDocument(node, workloads, Date.now());
      const data = encode(Assignment, 'assignment', term === undefined ? doc : { ...doc, term });
      try {
        const revision = known ? await kv.update(node, data, known.revision) : await kv.create(node, data);
        this.#known.set(node, { revision, fingerprint, term });
        const outcome = known ? 'updated' : 'created';
        metrics.kvWrites.inc({ outcome });
        return outcome;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        metrics.kvWrites.inc({ outcome: 'conflict' });
        this.#o.log.debug({ node, attempt: i + 1 }, 'assignment revision moved; re-reading');
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
    const known = { revision: entry.revision, fingerprint: decoded.ok ? workloadsFingerprint(decoded.value.workloads) : '', term: decoded.ok ? decoded.value.term : undefined };
    this.#known.set(node, known);
    return known;
  }
}
