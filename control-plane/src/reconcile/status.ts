// EdgeModelDeployment status from a plan and what agents report. Pure.
import {
  ESCALATION_CONDITION,
  MAX_STATUS_PLACEMENTS,
  PLACEMENT_PHASES,
  PRECISIONS,
  type EdgeModelDeploymentStatus,
  type EscalationStatus,
  type PlacementPhase,
  type PlacementStatus,
  type VariantFailure,
  type WorkloadReport,
} from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { setCondition, type ConditionInput } from '../fleet/node-status.ts';

/**
 * A placement's phase as its node reports it. A different variant running counts as Pending
 * (switching), unless the node says the switch to this one failed: then it is Failed, with why.
 */
export function placementStatus(p: Placement, reports: readonly WorkloadReport[] | undefined): PlacementStatus {
  const report = reports?.find((r) => r.key === p.deployment && r.variant === p.variant);
  const other = report ? undefined : reports?.find((r) => r.key === p.deployment);
  const status: PlacementStatus = {
    node: p.node,
    accelerator: p.accelerator,
    variant: p.variant,
    precision: p.precision,
    profile: p.profile,
    phase: report?.phase ?? 'Pending',
  };
  if (other?.failedVariant === p.variant) {
    status.phase = 'Failed';
    status.reason = other.reason ?? 'Failed';
    status.message = `${other.message ?? 'the switch failed'}; ${other.variant} keeps serving`;
  } else if (other) {
    status.reason = 'SwitchingVariant';
    status.message = `the node reports ${other.variant} (${other.phase}) and not yet ${p.variant}`;
  } else if (!report) {
    status.reason = 'AwaitingAgent';
    status.message = 'the node has not reported this deployment yet';
  } else if (report.reason) status.reason = report.reason;
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
  /** Recent variant failures per node, newest first (see failures.ts). */
  failures?: readonly VariantFailure[];
  prev: EdgeModelDeploymentStatus | undefined;
  now: Date;
  /** With spec.escalation: status.escalation and the EscalationAvailable condition (see escalation.ts). */
  escalation?: { status: EscalationStatus; condition: ConditionInput } | undefined;
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
  const active = (input.failures ?? []).filter((f) => Date.parse(f.retryAfter) > now.getTime());
  conditions = setCondition(conditions, progressing(placements, inFlight, active), now, generation);
  conditions = setCondition(
    conditions,
    unplaced > 0
      ? {
          type: 'Degraded',
          status: 'True',
          reason: active.length > 0 ? 'VariantFailed' : 'Unschedulable',
          message: `${unplaced} replicas unplaced: ${input.planMessage ?? 'no node fits'}${active.length > 0 ? `; ${failureSummary(active)}` : ''}`,
        }
      : failed.length > 0
        ? {
            type: 'Degraded',
            status: 'True',
            reason: 'PlacementFailed',
            message: `${failed.length} replicas failed: ${failed
              .slice(0, 5)
              .map((f) => `${f.variant} on ${f.node}: ${f.reason ?? 'failed'}${f.message ? ` (${f.message})` : ''}`)
              .join('; ')}`,
          }
        : active.length > 0
          ? { type: 'Degraded', status: 'True', reason: 'VariantFailed', message: `every replica is placed, but ${failureSummary(active)}` }
          : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'every replica is placed and none failed' },
    now,
    generation,
  );
  // A deployment that stopped escalating drops the condition with the rest of status.escalation.
  if (input.escalation) conditions = setCondition(conditions, input.escalation.condition, now, generation);
  else conditions = conditions.filter((c) => c.type !== ESCALATION_CONDITION);

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
  if (input.failures && input.failures.length > 0) status.failures = [...input.failures];
  if (input.escalation) status.escalation = input.escalation.status;
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

/** "2 replicas downloading, 1 loading, 1 switching variant" in Progressing, with the failure it works around. */
function progressing(placements: readonly PlacementStatus[], inFlight: number, active: readonly VariantFailure[]): Parameters<typeof setCondition>[1] {
  if (inFlight === 0) return { type: 'Progressing', status: 'False', reason: 'Complete', message: 'no replica is being rolled out' };
  const counts = new Map<string, number>();
  for (const p of placements) {
    if (p.phase === 'Ready' || p.phase === 'Failed') continue;
    const what = p.phase === 'Pending' ? (p.reason === 'SwitchingVariant' ? 'switching variant' : p.reason === 'AwaitingAgent' ? 'waiting for their agent' : 'pending') : p.phase.toLowerCase();
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  const parts = [...counts].map(([what, n]) => `${n} ${what}`).join(', ');
  const onFailedNode = placements.find((p) => p.phase !== 'Ready' && active.some((f) => f.node === p.node && f.variant !== p.variant));
  if (onFailedNode) {
    const f = active.find((x) => x.node === onFailedNode.node)!;
    return {
      type: 'Progressing',
      status: 'True',
      reason: 'FallingBack',
      message: `${parts}: ${onFailedNode.node} moves to ${onFailedNode.variant} after ${f.variant} failed there (${f.reason})`,
    };
  }
  return { type: 'Progressing', status: 'True', reason: 'ReplicasUpdating', message: `replicas being rolled out: ${parts}` };
}

/** "det-int8 failed on edge-1 (DigestMismatch: ...) and is not placed there before <time>". */
function failureSummary(active: readonly VariantFailure[]): string {
  const first = active[0]!;
  const detail = first.message ? `${first.reason}: ${first.message}` : first.reason;
  const more = active.length > 1 ? ` (and ${active.length - 1} more ${active.length === 2 ? 'pair' : 'pairs'} backing off)` : '';
  // A time, not a countdown: the message stays the same from one reconcile to the next.
  return `${first.variant} failed on ${first.node} (${detail.slice(0, 300)}) and is not placed there before ${first.retryAfter.replace(/\.\d+Z$/, 'Z')}${more}`;
}

/**
 * Status equality as the API server would store it: as JSON, where key order does not matter and
 * undefined members are absent. Compared in place: building canonical JSON of a status with
 * hundreds of placements on every reconcile was much of the control plane's garbage.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  return sameJson(a, b);
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return !Number.isFinite(a) && !Number.isFinite(b); // both null in JSON
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return jsonNull(a) && jsonNull(b);
  if (typeof (a as { toJSON?: unknown }).toJSON === 'function' || typeof (b as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(a) === JSON.stringify(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(arrayItem(a[i]), arrayItem(b[i]))) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k) || absent(x[k])) continue;
    defined++;
    if (!Object.hasOwn(y, k) || absent(y[k]) || !sameJson(x[k], y[k])) return false;
  }
  for (const k in y) if (Object.hasOwn(y, k) && !absent(y[k])) defined--;
  return defined === 0;
}

/** Members JSON leaves out of an object. */
const absent = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
/** Array items JSON writes as null. */
const arrayItem = (v: unknown) => (absent(v) ? null : v);
const jsonNull = (v: unknown) => v === null || (typeof v === 'number' && !Number.isFinite(v));
