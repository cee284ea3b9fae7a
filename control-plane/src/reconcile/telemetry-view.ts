// The leader's in-memory copy of node telemetry for planning. A change notice (a heartbeat
// changed power, network or a workload phase) marks the node's entry stale at once, and the
// node monitor hands over what it then reads, so a reconcile reads from Redis only the nodes it
// holds nothing fresh for; one node's battery crossing no longer costs a read and a parse of the
// whole fleet's telemetry per reconcile.
//
// Sections no change notice covers (load, measured latency, cached artifacts) are at most
// `maxAgeMs` old: an entry past that age is read again. An entry read again with the same
// content keeps its object, so node views built from it stay the same objects (see
// fleet-views.ts) and the planner's per-view memos hold.
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import type { NodeTelemetry } from '../fleet/telemetry.ts';

interface Entry {
  t: NodeTelemetry;
  /** The sections placement reads, as text: equal text, same telemetry. */
  content: string;
  readAtMs: number;
  /** Order of the read that produced it (see ReadToken). */
  seq: number;
}

/** Taken right before a Redis read: orders reads and change notices without trusting the clock. */
export interface ReadToken {
  seq: number;
  atMs: number;
}

/** What planning reads of a node's telemetry; seq and lastSeenMs change with every heartbeat. */
function contentOf(t: NodeTelemetry): string {
  return JSON.stringify([t.bootId, t.power, t.network, t.load, t.workloads, t.cachedArtifacts]);
}

export class TelemetryView {
  readonly #store: Pick<TelemetryStore, 'readMany'>;
  readonly #maxAgeMs: number;
  readonly #clock: () => number;
  readonly #entries = new Map<string, Entry>();
  /** Per node, the order of its last change notice: entries read before it are stale. */
  readonly #changedAt = new Map<string, number>();
  #seq = 0;

  constructor(store: Pick<TelemetryStore, 'readMany'>, maxAgeMs: number, clock: () => number = Date.now) {
    this.#store = store;
    this.#maxAgeMs = maxAgeMs;
    this.#clock = clock;
  }

  /** The node's telemetry changed in Redis: what is held for it is read again before use. */
  changed(node: string): void {
    this.#changedAt.set(node, ++this.#seq);
  }

  /** Take one right before reading Redis, and hand it to put with what the read returned. */
  readStarted(): ReadToken {
    return { seq: ++this.#seq, atMs: this.#clock() };
  }

  /** Telemetry just read from Redis for these nodes (absent from `read`: no record). */
  put(nodes: readonly string[], read: ReadonlyMap<string, NodeTelemetry>, token: ReadToken): void {
    for (const node of nodes) this.#store1(node, read.get(node), token);
  }

  /** Telemetry of these nodes: fresh entries from memory, the rest read from Redis. */
  async read(nodes: readonly string[]): Promise<Map<string, NodeTelemetry>> {
    const token = this.readStarted();
    const out = new Map<string, NodeTelemetry>();
    const stale: string[] = [];
    for (const node of nodes) {
      const e = this.#entries.get(node);
      if (e && this.#fresh(node, e, token.atMs)) out.set(node, e.t);
      else stale.push(node);
    }
    if (stale.length === 0) return out;
    const read = await this.#store.readMany(stale);
    for (const node of stale) {
      const t = this.#store1(node, read.get(node), token);
      if (t) out.set(node, t);
    }
    return out;
  }

  /** Nodes held in memory (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  forget(node: string): void {
    this.#entries.delete(node);
    this.#changedAt.delete(node);
  }

  /** Everything is read again: a new term, or Redis lost or replaced what it held. */
  clear(): void {
    this.#entries.clear();
    this.#changedAt.clear();
  }

  #fresh(node: string, e: Entry, nowMs: number): boolean {
    return e.seq > (this.#changedAt.get(node) ?? 0) && nowMs - e.readAtMs <= this.#maxAgeMs;
  }

  #store1(node: string, t: NodeTelemetry | undefined, token: ReadToken): NodeTelemetry | undefined {
    const prev = this.#entries.get(node);
    // A slower read that started before a newer one must not replace what that one found.
    if (prev && prev.seq > token.seq) return prev.t;
    if (!t) {
      this.#entries.delete(node);
      return undefined;
    }
    const content = contentOf(t);
    if (prev && prev.content === content) {
      prev.readAtMs = token.atMs;
      prev.seq = token.seq;
      return prev.t;
    }
    this.#entries.set(node, { t, content, readAtMs: token.atMs, seq: token.seq });
    return t;
  }
}
