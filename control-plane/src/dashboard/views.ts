// What the dashboard shows, built from the informers' resources and live telemetry. Pure.
import {
  DASHBOARD_SITE_LABEL,
  ESCALATION_CONDITION,
  type DashEscalation,
  type DashLink,
  type DashPlacement,
  type DashPower,
  type DashWorkload,
  type EdgeModelDeployment,
  type EdgeNode,
  type FleetDeployment,
  type FleetNode,
  type NodeDetail,
  type Precision,
} from '@edgeplane/api';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import type { Placement } from '../placement/types.ts';
import { placementStatus } from '../reconcile/status.ts';

/** The precision of `variant` in a deployment, by `<namespace>/<name>`; null when unknown. */
export type PrecisionOf = (deployment: string, variant: string) => Precision | null;

export function precisionLookup(deployments: Iterable<EdgeModelDeployment>): PrecisionOf {
  const byKey = new Map<string, Map<string, Precision>>();
  for (const d of deployments) {
    byKey.set(`${d.metadata.namespace ?? ''}/${d.metadata.name ?? ''}`, new Map(d.spec.model.variants.map((v) => [v.name, v.precision])));
  }
  return (deployment, variant) => byKey.get(deployment)?.get(variant) ?? null;
}

/** Reachable: a heartbeat within the grace period, or, with no record, what the EdgeNode says. */
export function isReachable(t: NodeTelemetry | undefined, node: EdgeNode | undefined, nowMs: number, gracePeriodMs: number): boolean {
  if (t) return nowMs - t.lastSeenMs <= gracePeriodMs;
  return node?.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
}

export function dashPower(t: NodeTelemetry | undefined, node: EdgeNode): DashPower | null {
  const p = t?.power ?? node.status?.power;
  if (!p) return null;
  return { source: p.source, batteryPercent: p.batteryPercent ?? null, charging: p.charging ?? false };
}

export function dashLink(t: NodeTelemetry | undefined, node: EdgeNode): DashLink | null {
  const n = t?.network ?? node.status?.network;
  if (!n) return null;
  return { type: n.type, metered: n.metered ?? false, bandwidthMbps: n.bandwidthMbps ?? null, rttMs: n.rttMs ?? null };
}

export function dashWorkloads(t: NodeTelemetry | undefined, node: EdgeNode, precisionOf: PrecisionOf): DashWorkload[] {
  const fromTelemetry = t?.workloads?.map((w) => ({
    deployment: w.key,
    variant: w.variant,
    accelerator: w.accelerator,
    phase: w.phase,
    p99Ms: w.p99Ms ?? null,
    rps: w.rps ?? null,
  }));
  const list =
    fromTelemetry ??
    (node.status?.workloads ?? []).map((w) => ({ deployment: w.deployment, variant: w.variant, accelerator: w.accelerator, phase: w.phase, p99Ms: w.p99Ms ?? null, rps: w.rps ?? null }));
  return list.map((w) => ({ ...w, precision: precisionOf(w.deployment, w.variant) })).sort((a, b) => (a.deployment < b.deployment ? -1 : a.deployment > b.deployment ? 1 : 0));
}

/**
 * A node as the model keeps it: the fleet view's FleetNode plus what moves with every heartbeat
 * (the heartbeat time, each workload's p99 and rate), for the node's samples and its detail.
 */
export type LiveNode = Omit<FleetNode, 'workloads'> & { lastSeenMs: number | null; workloads: DashWorkload[] };

/** What the fleet view gets of a live node. */
export function toFleetNode(n: LiveNode): FleetNode {
  return {
    name: n.name,
    site: n.site,
    labels: n.labels,
    unschedulable: n.unschedulable,
    ready: n.ready,
    reachable: n.reachable,
    accelerators: n.accelerators,
    power: n.power,
    link: n.link,
    workloads: n.workloads.map((w) => ({ deployment: w.deployment, variant: w.variant, precision: w.precision, accelerator: w.accelerator, phase: w.phase })),
    rev: n.rev,
  };
}

export function fleetNode(node: EdgeNode, t: NodeTelemetry | undefined, precisionOf: PrecisionOf, nowMs: number, gracePeriodMs: number, rev: number): LiveNode {
  const labels = node.metadata.labels ?? {};
  const reachable = isReachable(t, node, nowMs, gracePeriodMs);
  const accelerators = node.status?.accelerators ?? [];
  return {
    name: node.metadata.name ?? '',
    site: labels[DASHBOARD_SITE_LABEL] ?? null,
    labels,
    unschedulable: node.spec.unschedulable,
    ready: reachable && accelerators.length > 0,
    reachable,
    lastSeenMs: t?.lastSeenMs ?? null,
    accelerators: accelerators.map((a) => ({ id: a.id, type: a.type, ...(a.model !== undefined ? { model: a.model } : {}) })),
    power: dashPower(t, node),
    link: dashLink(t, node),
    workloads: dashWorkloads(t, node, precisionOf),
    rev,
  };
}

/** p99 in steps of about 25 %: a latency that wanders within a step is not news to the fleet view. */
export const p99Step = (ms: number | null): number | null => (ms === null || ms <= 0 ? ms : Math.round(Math.log(ms) / Math.log(1.25)));

/**
 * A node without what changes on every heartbeat (rev, lastSeenMs, rate, p99 within a step):
 * equal signatures mean nothing worth sending changed. Everything FleetNode carries is in it.
 */
export function nodeSignature(n: LiveNode): string {
  const { rev: _rev, lastSeenMs: _seen, workloads, ...rest } = n;
  return JSON.stringify([rest, workloads.map(({ rps: _rps, p99Ms, ...w }) => [w, p99Step(p99Ms)])]);
}

export function nodeDetail(node: EdgeNode, t: NodeTelemetry | undefined, precisionOf: PrecisionOf, nowMs: number, gracePeriodMs: number, rev: number): Omit<NodeDetail, 'events'> {
  const base = fleetNode(node, t, precisionOf, nowMs, gracePeriodMs, rev);
  const load = new Map((t?.load ?? []).map((l) => [l.id, l]));
  const statusUtil = new Map((node.status?.utilization ?? []).map((u) => [u.id, u]));
  return {
    ...base,
    accelerators: (node.status?.accelerators ?? []).map((a) => {
      const l = load.get(a.id);
      const s = statusUtil.get(a.id);
      return { ...a, utilization: l?.util ?? s?.utilization ?? null, queue: l?.queue ?? s?.queue ?? null };
    }),
    conditions: node.status?.conditions ?? [],
  };
}

export function degradedOf(d: EdgeModelDeployment): { reason: string; message: string } | null {
  const c = d.status?.conditions?.find((x) => x.type === 'Degraded' && x.status === 'True');
  return c ? { reason: c.reason, message: c.message } : null;
}

export function fleetDeployment(d: EdgeModelDeployment, rev: number): FleetDeployment {
  const s = d.status;
  return {
    namespace: d.metadata.namespace ?? '',
    name: d.metadata.name ?? '',
    replicas: d.spec.replicas,
    readyReplicas: s?.readyReplicas ?? 0,
    unplacedReplicas: s?.unplacedReplicas ?? 0,
    phases: { ...(s?.phaseCounts ?? {}) },
    precisions: { ...(s?.precisionCounts ?? {}) },
    conditions: s?.conditions ?? [],
    degraded: degradedOf(d),
    rev,
  };
}

export function deploymentSignature(d: FleetDeployment): string {
  const { rev: _rev, ...rest } = d;
  return JSON.stringify(rest);
}

/** Joint inference, when the deployment reports it; the condition only while it is False. */
export function dashEscalation(d: EdgeModelDeployment): DashEscalation | null {
  const e = d.status?.escalation;
  if (!e) return null;
  const c = d.status?.conditions?.find((x) => x.type === ESCALATION_CONDITION && x.status === 'False');
  return { ...e, unavailable: c ? { reason: c.reason, message: c.message } : null };
}

const UNPLACED_PREFIX = / replicas unplaced: (.*)$/s;

/**
 * The "0/N nodes are available: ..." explanation, from the Degraded condition the reconciler
 * wrote (status.ts), without the failures it may append.
 */
export function unplacedExplanation(d: EdgeModelDeployment): string | null {
  if (!(d.status?.unplacedReplicas ?? 0)) return null;
  const message = d.status?.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True')?.message;
  const m = message ? UNPLACED_PREFIX.exec(message) : null;
  if (!m?.[1]) return message ?? null;
  const nodes = /0\/\d+ nodes are available[^;]*/.exec(m[1]);
  return nodes ? nodes[0] : m[1];
}

export function dashPlacement(p: Placement, t: NodeTelemetry | undefined, sloP99Ms: number): DashPlacement {
  const status = placementStatus(p, t?.workloads);
  // Measured only: placementStatus falls back to the prediction, shown on its own.
  const measured = t?.workloads?.find((w) => w.key === p.deployment && w.variant === p.variant)?.p99Ms;
  return {
    node: p.node,
    accelerator: p.accelerator,
    variant: p.variant,
    precision: p.precision,
    phase: status.phase,
    p99Ms: measured ?? null,
    predictedP99Ms: p.predictedP99Ms,
    sloP99Ms,
    tierReason: p.tierReason,
    reason: status.reason ?? null,
    message: status.message ?? null,
  };
}
