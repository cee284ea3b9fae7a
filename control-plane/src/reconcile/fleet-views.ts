// The node list each plan reads, kept from one reconcile to the next: the same array while the
// fleet's members are the same, and the same NodeView object for a node whose EdgeNode,
// telemetry and lifecycle decision are the same objects and values as last time. The planner
// remembers facts per list and per view (placement/memo.ts, view-table.ts), so a node's change
// then costs one view and one table row instead of the whole fleet's.
import type { EdgeNode } from '@edgeplane/api';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import type { NodeView } from '../placement/types.ts';
import type { NodeLifecycle } from './node-lifecycle.ts';
import { nodeView, type VariantDigest } from './node-views.ts';

interface Entry {
  node: EdgeNode;
  t: NodeTelemetry | undefined;
  ready: boolean | undefined;
  evicted: boolean | undefined;
  /** The variant digests the view's measured latencies were keyed by. */
  digests: string;
  /** The caller's digestVersion when `digests` was computed. */
  digestVersion: string | undefined;
  view: NodeView;
}

/** Digests of the variants a node reports latency for: a spec's new sha256 re-keys them. */
function digestsOf(t: NodeTelemetry | undefined, digestOf: VariantDigest): string {
  let out = '';
  for (const w of t?.workloads ?? []) if (w.p99Ms !== undefined && w.phase === 'Ready') out += `${w.key}|${w.variant}|${digestOf(w.key, w.variant) ?? ''};`;
  return out;
}

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether two EdgeNode objects give the same view (nodeView reads these of them). A status
 * write replaces the object while the view stays the same: the heartbeat time, utilization and
 * workloads in status are read from telemetry, and power, link and cached artifacts from status
 * only when there is no telemetry, readiness only when the monitor has not decided.
 */
function sameForView(a: EdgeNode, b: EdgeNode, hasTelemetry: boolean, decided: boolean): boolean {
  if (a === b) return true;
  const sa = a.status;
  const sb = b.status;
  const reachable = (s: typeof sa) => s?.conditions?.find((c) => c.type === 'Reachable')?.status;
  return (
    a.metadata.name === b.metadata.name &&
    a.spec.unschedulable === b.spec.unschedulable &&
    sameJson(a.metadata.labels ?? {}, b.metadata.labels ?? {}) &&
    sameJson(sa?.accelerators ?? [], sb?.accelerators ?? []) &&
    (hasTelemetry || (sameJson(sa?.power, sb?.power) && sameJson(sa?.network, sb?.network) && sameJson(sa?.cachedArtifacts ?? [], sb?.cachedArtifacts ?? []))) &&
    (decided || reachable(sa) === reachable(sb))
  );
}

export class FleetViews {
  readonly #entries = new Map<string, Entry>();
  #list: NodeView[] = [];

  /**
   * Views of `nodes` in their order. Replaces elements of the previous list in place when the
   * names are the same in the same order (the planner checks each element against what it
   * remembered), and builds a new list otherwise. Plans must read the list before the next call.
   * `digestVersion` changes whenever `digestOf` may answer differently (a deployment's spec);
   * while it is the same, a node with the same telemetry object keeps its digests uncomputed.
   */
  views(
    nodes: readonly EdgeNode[],
    telemetry: ReadonlyMap<string, NodeTelemetry>,
    nowMs: number,
    lifecycle: ((node: string) => NodeLifecycle | undefined) | undefined,
    digestOf: VariantDigest,
    digestVersion?: string,
  ): readonly NodeView[] {
    const sameMembers = nodes.length === this.#list.length && nodes.every((n, i) => (n.metadata.name ?? '') === this.#list[i]!.name);
    const list = sameMembers ? this.#list : new Array<NodeView>(nodes.length);
    // Entries of nodes no longer listed are dropped; with the same members there are none.
    const seen = sameMembers && this.#entries.size === nodes.length ? undefined : new Set<string>();
    nodes.forEach((node, i) => {
      const name = node.metadata.name ?? '';
      seen?.add(name);
      const t = telemetry.get(name);
      const life = lifecycle?.(name);
      const e = this.#entries.get(name);
      const digests = digestVersion !== undefined && e !== undefined && e.t === t && e.digestVersion === digestVersion ? e.digests : digestsOf(t, digestOf);
      if (e && e.t === t && e.ready === life?.ready && e.evicted === life?.evicted && e.digests === digests && sameForView(e.node, node, t !== undefined, life !== undefined)) {
        e.node = node;
        e.digestVersion = digestVersion;
        list[i] = e.view;
        return;
      }
      let view = nodeView(node, t, nowMs, life, digestOf);
      // A status write replaces the EdgeNode and every object in it; the planner rebuilds the
      // whole list's facts for new accelerators and its topology domains for new labels, so
      // equal ones keep the objects the planner already knows.
      if (e && e.node !== node) {
        const accelerators = sameJson(e.view.accelerators, view.accelerators) ? e.view.accelerators : view.accelerators;
        const labels = sameJson(e.view.labels, view.labels) ? e.view.labels : view.labels;
        if (accelerators !== view.accelerators || labels !== view.labels) view = { ...view, accelerators, labels };
      }
      // Never changed once listed (a change makes a new view): frozen, a plan then checks it by
      // identity alone instead of reading its fields (placement/view-table.ts).
      Object.freeze(view);
      this.#entries.set(name, { node, t, ready: life?.ready, evicted: life?.evicted, digests, digestVersion, view });
      list[i] = view;
    });
    if (seen && this.#entries.size > seen.size) for (const name of this.#entries.keys()) if (!seen.has(name)) this.#entries.delete(name);
    this.#list = list;
    return list;
  }

  clear(): void {
    this.#entries.clear();
    this.#list = [];
  }
}
