// Every deployment's current placements, indexed by node, in the leader's memory. Redis
// holds the durable copy (placement-store.ts) so a new leader starts from the same state.
import type { Placement } from '../placement/types.ts';

export class PlacementIndex {
  readonly #byKey = new Map<string, readonly Placement[]>();
  readonly #byNode = new Map<string, Set<string>>();

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

  /** MiB committed per `${node}/${accelerator}` by every deployment but one. */
  committedMiB(exceptKey: string, memoryOf: (p: Placement) => number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, placements] of this.#byKey) {
      if (key === exceptKey) continue;
      for (const p of placements) {
        const slot = `${p.node}/${p.accelerator}`;
        out.set(slot, (out.get(slot) ?? 0) + memoryOf(p));
      }
    }
    return out;
  }

  /** Deployments with a replica on the node. */
  workloadsOn(node: string): number {
    return this.#byNode.get(node)?.size ?? 0;
  }

  /** Deployments with a replica on each node, not counting one of them. */
  otherWorkloads(exceptKey: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [node, keys] of this.#byNode) out.set(node, keys.has(exceptKey) ? keys.size - 1 : keys.size);
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
