// NodeViews for placement: EdgeNode status (capability, the operator's labels and cordon)
// joined with live telemetry from Redis and the node monitor's lifecycle decision. Pure.
import type { EdgeNode } from '@edgeplane/api';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import type { NodeView } from '../placement/types.ts';
import type { NodeLifecycle } from './node-lifecycle.ts';

/** sha256 of a deployment's variant, to key measured latency; undefined when unknown. */
export type VariantDigest = (deploymentKey: string, variant: string) => string | undefined;

/**
 * The node monitor's decision; before it has one (its first sweep failed), what the EdgeNode
 * last recorded, and nothing is evicted for lack of information.
 */
function lifecycleOf(node: EdgeNode, decided: NodeLifecycle | undefined): NodeLifecycle {
  if (decided) return decided;
  return { ready: node.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True', evicted: false };
}

export function nodeView(node: EdgeNode, t: NodeTelemetry | undefined, nowMs: number, lifecycle: NodeLifecycle | undefined, digestOf: VariantDigest): NodeView {
  const status = node.status;
  const life = lifecycleOf(node, lifecycle);
  const accelerators = status?.accelerators ?? [];
  const measured = new Map<string, number>();
  for (const w of t?.workloads ?? []) {
    if (w.p99Ms === undefined || w.phase !== 'Ready') continue;
    const sha = digestOf(w.key, w.variant);
    if (sha) measured.set(`${sha}@${w.accelerator}`, w.p99Ms);
  }
  return {
    name: node.metadata.name ?? '',
    labels: node.metadata.labels ?? {},
    unschedulable: node.spec.unschedulable,
    ready: accelerators.length > 0 && life.ready,
    // NotReady within the eviction delay or in a full disruption: its replicas stay put.
    retainReplicas: !life.ready && !life.evicted,
    accelerators,
    power: t?.power ?? status?.power,
    network: t?.network ?? status?.network,
    cachedArtifacts: new Set(t?.cachedArtifacts ?? status?.cachedArtifacts ?? []),
    measuredP99Ms: measured,
    utilization: new Map((t?.load ?? []).map((l) => [l.id, l.util])),
  };
}
