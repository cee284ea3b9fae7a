// EdgeModelDeployment status from a plan and what agents report. Pure.
import {
  MAX_STATUS_PLACEMENTS,
  PLACEMENT_PHASES,
  PRECISIONS,
  type EdgeModelDeploymentStatus,
  type PlacementPhase,
  type PlacementStatus,
  type WorkloadReport,
} from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { setCondition } from '../fleet/node-status.ts';

/** A placement's phase as its node reports it; a different variant running counts as Pending. */
export function placementStatus(p: Placement, reports: readonly WorkloadReport[] | undefined): PlacementStatus {
  const report = reports?.find((r) => r.key === p.deployment && r.variant === p.variant);
  const status: PlacementStatus = {
    node: p.node,
    accelerator: p.accelerator,
    variant: p.variant,
    precision: p.precision,
    profile: p.profile,
    phase: report?.phase ?? 'Pending',
  };
  if (report?.reason) status.reason = report.reason;
  else if (!report) status.reason = reports?.some((r) => r.key === p.deployment) ? 'SwitchingVariant' : 'AwaitingAgent';
  if (report?.message) status.message = report.message;
  const p99 = report?.p99Ms ?? p.predictedP99Ms;
  if (Number.isFinite(p99)) status.p99LatencyMs = Math.round(p99 * 100) / 100;
  return status;
}

export function byNodeThenAccelerator(a: PlacementStatus, b: PlacementStatus): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : a.accelerator < b.accelerator ? -1 : a.accelerator > b.accelerator ? 1 : 0;
}

export interface StatusInput {
  generation: number | undefined;
  replicas: number;
  placements: readonly PlacementStatus[];
  unplaced: number;
  /** kube-scheduler style explanation when replicas stay unplaced. */
  planMessage?: string | undefined;
  prev: EdgeModelDeploymentStatus | undefined;
  now: Date;
}

export function deploymentStatus(input: StatusInput): EdgeModelDeploymentStatus {
  const { generation, replicas, unplaced, prev, now } = input;
  const placements = [...input.placements].sort(byNodeThenAccelerator);
  const phaseCounts: Partial<Record<PlacementPhase, number>> = {};
  const precisionCounts: Partial<Record<(typeof PRECISIONS)[number], number>> = {};
  for (const p of placements) {
    phaseCounts[p.phase] = (phaseCounts[p.phase] ?? 0) + 1;
    precisionCounts[p.precision] = (precisionCounts[p.precision] ?? 0) + 1;
  }
  const readyReplicas = phaseCounts.Ready ?? 0;
  const failed = placements.filter((p) => p.phase === 'Failed');
  const inFlight = placements.length - readyReplicas - failed.length;

  let conditions = setCondition(
    prev?.conditions,
    readyReplicas >= replicas
      ? { type: 'Ready', status: 'True', reason: replicas === 0 ? 'NoReplicasRequested' : 'AllReplicasReady', message: `${readyReplicas}/${replicas} replicas ready` }
      : { type: 'Ready', status: 'False', reason: 'ReplicasNotReady', message: `${readyReplicas}/${replicas} replicas ready` },
    now,
    generation,
  );
  conditions = setCondition(
    conditions,
    inFlight > 0
      ? { type: 'Progressing', status: 'True', reason: 'ReplicasUpdating', message: `${inFlight} replicas pending, downloading or loading` }
      : { type: 'Progressing', status: 'False', reason: 'Complete', message: 'no replica is being rolled out' },
    now,
    generation,
  );
  conditions = setCondition(
    conditions,
    unplaced > 0
      ? { type: 'Degraded', status: 'True', reason: 'Unschedulable', message: `${unplaced} replicas unplaced: ${input.planMessage ?? 'no node fits'}` }
      : failed.length > 0
        ? {
            type: 'Degraded',
            status: 'True',
            reason: 'PlacementFailed',
            message: `${failed.length} replicas failed: ${failed
              .slice(0, 5)
              .map((f) => `${f.node}: ${f.reason ?? f.message ?? 'failed'}`)
              .join('; ')}`,
          }
        : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'every replica is placed and none failed' },
    now,
    generation,
  );

  const status: EdgeModelDeploymentStatus = {
    replicas,
    readyReplicas,
    unplacedReplicas: unplaced,
    ready: `${readyReplicas}/${replicas}`,
    tiers: PRECISIONS.filter((p) => precisionCounts[p]).map((p) => `${p}:${precisionCounts[p]}`).join(' '),
    precisionCounts,
    phaseCounts: Object.fromEntries(PLACEMENT_PHASES.filter((p) => phaseCounts[p]).map((p) => [p, phaseCounts[p]])),
    placements: placements.slice(0, MAX_STATUS_PLACEMENTS),
    placementsTruncated: placements.length > MAX_STATUS_PLACEMENTS,
    conditions,
  };
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

/** Status equality as the API server would store it (key order does not matter). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : value,
  );
}
