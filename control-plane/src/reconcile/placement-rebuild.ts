// Redis is a cache of placements; KV (what each node must run) and EdgeModelDeployment status
// (the replicas per node, their latency) are the truth. After Redis lost its data, the leader
// writes its placements back from memory, and a leader that starts with no placements for a
// deployment rebuilds them from the other two. Without this a new leader would plan from
// nothing and move replicas that were serving.
import { Assignment, decode, type EdgeModelDeployment, type Precision, type WorkloadAssignment } from '@edgeplane/api';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { ResourceInformer } from '../kube/informers.ts';
import type { Placement } from '../placement/types.ts';
import type { PlacementIndex } from './placement-index.ts';
import { forEachLimit } from './limit.ts';
import type { PlacementStore } from './placement-store.ts';

/** KV reads in flight at once while rebuilding. */
const READ_CONCURRENCY = 32;

/**
 * Placements per deployment from the nodes' assignments, for the deployments asked for. Pure.
 * A node runs a deployment once whatever its replica count there, so status says how many
 * replicas it holds; the cap is taken as the variant's precision (KV does not keep it), which
 * holds a lower tier rather than upgrading straight after a rebuild.
 */
export function placementsFromAssignments(
  assignments: ReadonlyMap<string, readonly WorkloadAssignment[]>,
  deployments: ReadonlyMap<string, EdgeModelDeployment>,
): Map<string, Placement[]> {
  const out = new Map<string, Placement[]>();
  for (const node of [...assignments.keys()].sort()) {
    for (const w of assignments.get(node) ?? []) {
      const emd = deployments.get(w.key);
      if (!emd || emd.metadata.deletionTimestamp) continue;
      if (!emd.spec.model.variants.some((v) => v.name === w.variant.name)) continue;
      const reported = (emd.status?.placements ?? []).filter((p) => p.node === node && p.variant === w.variant.name);
      const copies = Math.max(1, reported.length);
      const list = out.get(w.key) ?? [];
      for (let i = 0; i < copies; i++) {
        list.push({
          deployment: w.key,
          node,
          accelerator: reported[i]?.accelerator ?? w.accelerator,
          variant: w.variant.name,
          precision: w.variant.precision,
          profile: w.variant.profile,
          cap: w.variant.precision as Precision,
          predictedP99Ms: reported[i]?.p99LatencyMs ?? w.latencySloMs,
          tierReason: 'restored from the node assignment',
        });
      }
      out.set(w.key, list);
    }
  }
  return out;
}

export interface PlacementRebuilderOptions {
  kv: KV;
  deployments: ResourceInformer<EdgeModelDeployment>;
  index: PlacementIndex;
  store: PlacementStore;
  log: Logger;
}

export class PlacementRebuilder {
  readonly #o: PlacementRebuilderOptions;

  constructor(options: PlacementRebuilderOptions) {
    this.#o = options;
  }

  /**
   * Gives every deployment with no placements in the index the ones KV and status say it has,
   * and stores them in Redis. Returns how many deployments were restored.
   */
  async restore(): Promise<number> {
    const { deployments, index, store, log } = this.#o;
    const missing = new Map<string, EdgeModelDeployment>();
    for (const d of deployments.list()) {
      const key = `${d.metadata.namespace}/${d.metadata.name}`;
      if (!index.has(key)) missing.set(key, d);
    }
    if (missing.size === 0) return 0;
    const restored = placementsFromAssignments(await this.#readAssignments(), missing);
    for (const [key, placements] of restored) {
      index.set(key, placements);
      await store.save(key, placements);
    }
    if (restored.size > 0) log.warn({ deployments: restored.size, placements: [...restored.values()].reduce((n, l) => n + l.length, 0) }, 'placements missing from Redis; restored from KV and status');
    return restored.size;
  }

  /** Writes the index back to Redis after it lost its data. */
  async resave(): Promise<number> {
    const { index, store } = this.#o;
    const keys = index.keys();
    for (const key of keys) await store.save(key, index.get(key));
    if (keys.length > 0) this.#o.log.warn({ deployments: keys.length }, 'placements written back to Redis');
    return keys.length;
  }

  async #readAssignments(): Promise<Map<string, WorkloadAssignment[]>> {
    const { kv } = this.#o;
    const out = new Map<string, WorkloadAssignment[]>();
    const nodes: string[] = [];
    for await (const k of await kv.keys()) nodes.push(k);
    // Reads overlap: one round trip after another would take seconds for a large fleet.
    await forEachLimit(nodes, READ_CONCURRENCY, async (node) => {
      const entry = await kv.get(node);
      if (!entry || entry.operation !== 'PUT') return;
      const decoded = decode(Assignment, 'assignment', entry.value);
      if (decoded.ok) out.set(node, decoded.value.workloads);
    });
    return out;
  }
}
