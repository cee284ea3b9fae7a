// NodeViews for placement: EdgeNode status (capability, the operator's labels and cordon)
// joined with live telemetry from Redis. Pure.
import type { EdgeNode } from '@edgeplane/api';
import { isFresh, type NodeTelemetry } from '../fleet/telemetry.ts';
import type { NodeView } from '../placement/types.ts';

/** sha256 of a deployment's variant, to key measured latency; undefined when unknown. */
export type VariantDigest = (deploymentKey: string, variant: string) => string | undefined;

export function nodeView(node: EdgeNode, t: NodeTelemetry | undefined, nowMs: number, heartbeatIntervalMs: number, digestOf: VariantDigest): NodeView {
  const status = node.status;
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
    ready: accelerators.length > 0 && isFresh(t, nowMs, heartbeatIntervalMs),
    accelerators,
    power: t?.power ?? status?.power,
    network: t?.network ?? status?.network,
    cachedArtifacts: new Set(t?.cachedArtifacts ?? status?.cachedArtifacts ?? []),
    measuredP99Ms: measured,
    utilization: new Map((t?.load ?? []).map((l) => [l.id, l.util])),
  };
}
