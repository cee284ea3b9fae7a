// The leader's view of node changes: the liveness sweep, EdgeNode status writes on
// meaningful change (or once a minute), and which deployments a node change must re-plan:
// a crossed tier boundary (battery, link class), reachability, or a workload phase.
import { EdgeNodeStatus, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { buildNodeStatus, NODE_STATUS_REFRESH_MS, shouldWriteNodeStatus } from '../fleet/node-status.ts';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import { isFresh, workloadSignature, type NodeTelemetry } from '../fleet/telemetry.ts';
import { describeKubeError } from '../kube/errors.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import { nodesKind } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { Metrics } from '../metrics.ts';
import { crossesTierBoundary, type NodeTelemetry as TierTelemetry } from '../placement/index.ts';
import type { PlacementIndex } from './placement-index.ts';
import { sameStatus } from './status.ts';

interface Seen extends TierTelemetry {
  workloads: string;
}

export interface NodeMonitorOptions {
  nodes: ResourceInformer<EdgeNode>;
  deployments: ResourceInformer<EdgeModelDeployment>;
  telemetry: TelemetryStore;
  statusWriter: StatusWriter;
  index: PlacementIndex;
  metrics: Metrics;
  log: Logger;
  heartbeatIntervalMs: number;
  enqueue: (deploymentKey: string) => void;
}

export class NodeMonitor {
  readonly #o: NodeMonitorOptions;
  readonly #seen = new Map<string, Seen>();
  readonly #lastWrite = new Map<string, number>();
  /** When each node's status was last looked at, written or not. */
  readonly #lastCheck = new Map<string, number>();
  readonly #dirty = new Set<string>();
  #processing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(options: NodeMonitorOptions) {
    this.#o = options;
  }

  start(): void {
    this.#stopped = false;
    const tick = () => {
      if (this.#stopped) return;
      void this.sweep()
        .catch((err: unknown) => this.#o.log.warn({ err: (err as Error).message }, 'liveness sweep failed'))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.heartbeatIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#processing;
    this.#seen.clear();
    this.#dirty.clear();
    this.#lastCheck.clear();
  }

  /** Something about the node may have changed; look at it soon. */
  nodeChanged(node: string): void {
    if (this.#stopped) return;
    this.#dirty.add(node);
    this.#processing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#process());
  }

  /**
   * Marks nodes dirty whose reachability differs from what was last seen, or whose status
   * is due for its once-a-minute refresh.
   */
  async sweep(): Promise<void> {
    const names = this.#o.nodes.keys();
    const lastSeen = await this.#o.telemetry.lastSeen(names);
    const now = Date.now();
    let unreachable = 0;
    names.forEach((name, i) => {
      const seen = lastSeen[i] ?? null;
      const reachable = seen !== null && isFresh({ lastSeenMs: seen }, now, this.#o.heartbeatIntervalMs);
      if (!reachable) unreachable++;
      const before = this.#seen.get(name);
      const statusReachable = this.#o.nodes.get(name)?.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
      const due = now - (this.#lastCheck.get(name) ?? 0) >= NODE_STATUS_REFRESH_MS;
      if (!before || before.ready !== reachable || statusReachable !== reachable || due) this.nodeChanged(name);
    });
    this.#o.metrics.unreachableNodes.set(unreachable);
  }

  async #process(): Promise<void> {
    try {
      while (this.#dirty.size > 0 && !this.#stopped) {
        const nodes = [...this.#dirty];
        this.#dirty.clear();
        const telemetry = await this.#o.telemetry.readMany(nodes);
        const now = Date.now();
        for (const name of nodes) await this.#evaluate(name, telemetry.get(name), now);
      }
    } finally {
      this.#processing = undefined;
      if (this.#dirty.size > 0 && !this.#stopped) this.nodeChanged([...this.#dirty][0]!);
    }
  }

  async #evaluate(name: string, t: NodeTelemetry | undefined, now: number): Promise<void> {
    const node = this.#o.nodes.get(name);
    if (!node) return;
    const reachable = isFresh(t, now, this.#o.heartbeatIntervalMs);
    const after: Seen = {
      power: t?.power ?? node.status?.power,
      network: t?.network ?? node.status?.network,
      ready: reachable && !!node.status?.accelerators?.length,
      workloads: workloadSignature(t?.workloads),
    };
    const before = this.#seen.get(name);
    this.#seen.set(name, after);
    this.#lastCheck.set(name, now);
    this.#enqueueAffected(name, before, after);
    await this.#writeStatus(node, t, reachable, now);
  }

  #enqueueAffected(name: string, before: Seen | undefined, after: Seen): void {
    const { index, deployments, enqueue } = this.#o;
    const placedHere = new Set(index.keysOnNode(name));
    for (const key of placedHere) {
      const d = deployments.get(key);
      if (!d) continue;
      const cap = index.get(key).find((p) => p.node === name)?.cap;
      if (!before || before.workloads !== after.workloads || crossesTierBoundary(d.spec, before, after, cap)) enqueue(key);
    }
    // A node that became usable, or changed tier, may take replicas that found no node.
    for (const d of deployments.list()) {
      const key = `${d.metadata.namespace}/${d.metadata.name}`;
      if (placedHere.has(key)) continue;
      const short = index.get(key).length < d.spec.replicas;
      if (short && (!before || before.ready !== after.ready || crossesTierBoundary(d.spec, before, after))) enqueue(key);
    }
  }

  async #writeStatus(node: EdgeNode, t: NodeTelemetry | undefined, reachable: boolean, now: number): Promise<void> {
    const name = node.metadata.name ?? '';
    const next = buildNodeStatus(node.status, { telemetry: t, reachable, now: new Date(now) });
    if (!shouldWriteNodeStatus(node.status, next, this.#lastWrite.get(name), now)) return;
    try {
      await this.#o.statusWriter.write(
        { kind: nodesKind, name },
        (current) => {
          const parsed = EdgeNodeStatus.safeParse(current.status ?? {});
          const prev = parsed.success ? parsed.data : undefined;
          const built = buildNodeStatus(prev, { telemetry: t, reachable, now: new Date(now) });
          // The cache may lag our own last write: nothing to do if the stored status has it.
          return sameStatus(prev, built) ? null : built;
        },
        node as unknown as KubernetesObject,
      );
      this.#lastWrite.set(name, now);
      if (node.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True' && !reachable) {
        this.#o.log.warn({ node: name }, 'node unreachable: no heartbeat for three intervals');
      }
    } catch (err) {
      this.#o.log.warn({ node: name, err: describeKubeError(err) }, 'could not write node status');
    }
  }
}
