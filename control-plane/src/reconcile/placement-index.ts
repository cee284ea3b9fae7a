// Every deployment's current placements, indexed by node, in the leader's memory. Redis
// holds the durable copy (placement-store.ts) so a new leader starts from the same state.
import type { Placement } from '../placement/types.ts';

/** One deployment's committed memory per slot, as computed from one placement list. */
interface Contribution {
  list: readonly Placement[];
  version: unknown;
  /** MiB and replica count per `${node}/${accelerator}`. */
  bySlot: Map<string, { mib: number; n: number }>;
}

export class PlacementIndex {
  readonly #byKey = new Map<string, readonly Placement[]>();
  readonly #byNode = new Map<string, Set<string>>();
  /** Every deployment's contribution to #committed, recomputed only when its list or version changes. */
  readonly #contributions = new Map<string, Contribution>();
  /** Committed MiB and replica count per slot across all deployments in #contributions. */
  readonly #committed = new Map<string, { mib: number; n: number }>();

  get(key: string): readonly Placement[] {
    return this.#byKey.get(key) ?? [];
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  /** Replaces a deployment's placements; returns the nodes whose assignment may change. */
  set(key: string, placements: readonly Placement[]): Set<string> {
    const affected = this.#unlink(key);
    this.#byKey.set(key, placements);
    for (const p of placements) {
      affected.add(p.node);
      let keys = this.#byNode.get(p.node);
      if (!keys) this.#byNode.set(p.node, (keys = new Set()));
      keys.add(key);
    }
    return affected;
  }

  delete(key: string): Set<string> {
    const affected = this.#unlink(key);
    this.#byKey.delete(key);
    return affected;
  }

  /** Deployment keys with at least one replica on the node, sorted. */
  keysOnNode(node: string): string[] {
    return [...(this.#byNode.get(node) ?? [])].sort();
  }

  /**
   * MiB committed per `${node}/${accelerator}` by every deployment but one. Kept as running
   * totals: a deployment's share is computed again only when its placement list (lists are
   * replaced, never changed in place) or `versionOf(key)` changed, e.g. its variants' memory, so a
   * plan costs the slots in use rather than every placement of every deployment. Without
   * `versionOf` every share is computed again.
   */
  committedMiB(exceptKey: string, memoryOf: (p: Placement) => number, versionOf?: (key: string) => unknown): Map<string, number> {
    for (const key of this.#contributions.keys()) if (!this.#byKey.has(key)) this.#retract(key);
    for (const [key, list] of this.#byKey) {
      const version = versionOf?.(key);
      const c = this.#contributions.get(key);
      if (c && versionOf && c.list === list && c.version === version) continue;
      this.#retract(key);
      const bySlot = new Map<string, { mib: number; n: number }>();
      for (const p of list) {
        const slot = `${p.node}/${p.accelerator}`;
        const mib = memoryOf(p);
        const s = bySlot.get(slot);
        if (s) {
          s.mib += mib;
          s.n++;
        } else bySlot.set(slot, { mib, n: 1 });
      }
      for (const [slot, s] of bySlot) {
        const t = this.#committed.get(slot);
        if (t) {
          t.mib += s.mib;
          t.n += s.n;
        } else this.#committed.set(slot, { mib: s.mib, n: s.n });
      }
      this.#contributions.set(key, { list, version, bySlot });
    }
    const except = this.#contributions.get(exceptKey)?.bySlot;
    const out = new Map<string, number>();
    for (const [slot, t] of this.#committed) {
      const mine = except?.get(slot);
      if (!mine) out.set(slot, t.mib);
      else if (t.n > mine.n) out.set(slot, t.mib - mine.mib);
    }
    return out;
  }

  #retract(key: string): void {
    const c = this.#contributions.get(key);
    if (!c) return;
    this.#contributions.delete(key);
    for (const [slot, s] of c.bySlot) {
      const t = this.#committed.get(slot)!;
      t.mib -= s.mib;
      t.n -= s.n;
      if (t.n === 0) this.#committed.delete(slot);
    }
  }

  /** Deployments with a replica on the node. */
  workloadsOn(node: string): number {
    return this.#byNode.get(node)?.size ?? 0;
  }

  /** Deployments with a replica on each node, not counting one of them; nodes with none left out. */
  otherWorkloads(exceptKey: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [node, keys] of this.#byNode) {
      const n = keys.has(exceptKey) ? keys.size - 1 : keys.size;
      if (n > 0) out.set(node, n);
    }
    return out;
  }

  /** Placements per precision across all deployments, for the metrics gauge. */
  countByPrecision(): Map<string, number> {
    const out = new Map<string, number>();
    for (const placements of this.#byKey.values()) for (const p of placements) out.set(p.precision, (out.get(p.precision) ?? 0) + 1);
    return out;
  }

  clear(): void {
    this.#byKey.clear();
    this.#byNode.clear();
    this.#contributions.clear();
    this.#committed.clear();
  }

  #unlink(key: string): Set<string> {
    const affected = new Set<string>();
    for (const p of this.#byKey.get(key) ?? []) {
      affected.add(p.node);
      const keys = this.#byNode.get(p.node);
      keys?.delete(key);
      if (keys?.size === 0) this.#byNode.delete(p.node);
    }
    return affected;
  }
}
