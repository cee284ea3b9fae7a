// What the read API shows: resources from the informer caches joined with live telemetry
// and the full placement list from Redis (status lists only the first 200).
import { PRECISIONS, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { acceleratorSummary, powerSummary } from '../fleet/node-status.ts';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import type { ResourceInformer } from '../kube/informers.ts';
import type { Placement } from '../placement/types.ts';
import type { PlacementStore } from '../reconcile/placement-store.ts';
import { placementStatus } from '../reconcile/status.ts';
import type { DeploymentDetail, DeploymentSummary, NodeSummary, PlacementDetail } from './schemas.ts';

export interface ReadModel {
  nodes(): Promise<NodeSummary[]>;
  deployments(): DeploymentSummary[];
  /** null when there is no such deployment. */
  deployment(namespace: string, name: string): Promise<DeploymentDetail | null>;
}

/**
 * Reachable as any replica can tell: a heartbeat within the grace period, or, with no record
 * (Redis lost it), what the leader last wrote on the EdgeNode: unknown is not stale.
 */
function reachableNow(t: NodeTelemetry | undefined, node: EdgeNode | undefined, nowMs: number, gracePeriodMs: number): boolean {
  if (t) return nowMs - t.lastSeenMs <= gracePeriodMs;
  return node?.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
}

export function nodeSummary(node: EdgeNode, t: NodeTelemetry | undefined, nowMs: number, gracePeriodMs: number): NodeSummary {
  const s = node.status;
  const reachable = reachableNow(t, node, nowMs, gracePeriodMs);
  const power = t?.power ?? s?.power;
  const network = t?.network ?? s?.network;
  return {
    name: node.metadata.name ?? '',
    labels: node.metadata.labels ?? {},
    unschedulable: node.spec.unschedulable,
    ready: reachable && !!s?.accelerators?.length,
    reachable,
    acceleratorSummary: acceleratorSummary(s?.accelerators),
    powerSummary: powerSummary(power),
    accelerators: s?.accelerators ?? [],
    ...(power ? { power } : {}),
    ...(network ? { network } : {}),
    lastSeenMs: t?.lastSeenMs ?? null,
    conditions: s?.conditions ?? [],
  };
}

export function deploymentSummary(d: EdgeModelDeployment): DeploymentSummary {
  const s = d.status;
  return {
    namespace: d.metadata.namespace ?? '',
    name: d.metadata.name ?? '',
    ...(d.metadata.generation !== undefined ? { generation: d.metadata.generation } : {}),
    ...(s?.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
    replicas: d.spec.replicas,
    readyReplicas: s?.readyReplicas ?? 0,
    unplacedReplicas: s?.unplacedReplicas ?? 0,
    ready: s?.ready ?? `0/${d.spec.replicas}`,
    tiers: s?.tiers ?? '',
    conditions: s?.conditions ?? [],
  };
}

export function placementDetail(p: Placement, t: NodeTelemetry | undefined, nowMs: number, gracePeriodMs: number, node?: EdgeNode): PlacementDetail {
  const report = t?.workloads?.find((w) => w.key === p.deployment && w.variant === p.variant);
  const util = t?.load?.find((l) => l.id === p.accelerator)?.util;
  return {
    ...placementStatus(p, t?.workloads),
    cap: p.cap,
    tierReason: p.tierReason,
    predictedP99Ms: p.predictedP99Ms,
    telemetry: {
      reachable: reachableNow(t, node, nowMs, gracePeriodMs),
      lastSeenMs: t?.lastSeenMs ?? null,
      ...(t?.power ? { power: t.power } : {}),
      ...(t?.network ? { network: t.network } : {}),
      ...(util !== undefined ? { utilization: util } : {}),
      ...(report?.p99Ms !== undefined ? { p99Ms: report.p99Ms } : {}),
      ...(report?.rps !== undefined ? { rps: report.rps } : {}),
    },
  };
}

const rank = (p: PlacementDetail) => PRECISIONS.indexOf(p.precision);

export interface LiveReadModelOptions {
  nodes: ResourceInformer<EdgeNode>;
  deployments: ResourceInformer<EdgeModelDeployment>;
  telemetry: TelemetryStore;
  placements: PlacementStore;
  /** A node silent this long shows as unreachable, ms (the node monitor's grace period). */
  gracePeriodMs: number;
}

export class LiveReadModel implements ReadModel {
  readonly #o: LiveReadModelOptions;

  constructor(options: LiveReadModelOptions) {
    this.#o = options;
  }

  async nodes(): Promise<NodeSummary[]> {
    const nodes = this.#o.nodes.list().sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    const telemetry = await this.#o.telemetry.readMany(nodes.map((n) => n.metadata.name ?? ''));
    const now = Date.now();
    return nodes.map((n) => nodeSummary(n, telemetry.get(n.metadata.name ?? ''), now, this.#o.gracePeriodMs));
  }

  deployments(): DeploymentSummary[] {
    return this.#o.deployments
      .list()
      .map(deploymentSummary)
      .sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  }

  async deployment(namespace: string, name: string): Promise<DeploymentDetail | null> {
    const d = this.#o.deployments.get(`${namespace}/${name}`);
    if (!d) return null;
    const placements = await this.#o.placements.load(`${namespace}/${name}`);
    const telemetry = await this.#o.telemetry.readMany([...new Set(placements.map((p) => p.node))]);
    const now = Date.now();
    const details = placements
      .map((p) => placementDetail(p, telemetry.get(p.node), now, this.#o.gracePeriodMs, this.#o.nodes.get(p.node)))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : rank(a) - rank(b)));
    return { ...deploymentSummary(d), spec: d.spec, placements: details };
  }
}
