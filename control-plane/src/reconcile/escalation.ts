// Joint inference as the control plane sees it: the escalation spec copied into each node's
// workloads, the tier's availability, and the counters nodes report, summed per deployment. Pure.
import {
  ESCALATION_CONDITION,
  type EdgeModelDeployment,
  type Escalation,
  type EscalationCounters,
  type EscalationStatus,
  type WorkloadAssignment,
  type WorkloadReport,
} from '@edgeplane/api';
import type { ConditionInput } from '../fleet/node-status.ts';

/**
 * Each workload carries its deployment's spec.escalation (absent: the deployment escalates
 * nowhere). Part of the document, so a changed escalation spec is a changed assignment and an
 * unchanged one writes nothing.
 */
export function withEscalation(workloads: WorkloadAssignment[], escalationOf: (key: string) => Escalation | undefined): WorkloadAssignment[] {
  return workloads.map((w) => {
    const escalation = escalationOf(w.key);
    if (escalation) return { ...w, escalation };
    if (w.escalation === undefined) return w;
    const { escalation: _dropped, ...rest } = w;
    return rest;
  });
}

/** Key (`namespace/name`) of the deployment a deployment escalates to; undefined when none. */
export function escalationTargetKey(emd: Pick<EdgeModelDeployment, 'metadata' | 'spec'>): string | undefined {
  const target = emd.spec.escalation?.deployment;
  return target ? `${emd.metadata.namespace ?? 'default'}/${target}` : undefined;
}

/** Whether a deployment can answer escalations: `ready` with at least one Ready replica. */
export type TierState = 'ready' | 'not-ready' | 'not-found';

export function tierStateOf(tier: Pick<EdgeModelDeployment, 'metadata' | 'status'> | undefined): TierState {
  if (!tier || tier.metadata.deletionTimestamp) return 'not-found';
  return (tier.status?.readyReplicas ?? 0) >= 1 ? 'ready' : 'not-ready';
}

/**
 * The EscalationAvailable condition for a tier in this state, naming the tier. No replica
 * counts in the message: it changes when the state does, and only then is it requeued.
 */
export function escalationCondition(tier: string, state: TierState): ConditionInput {
  switch (state) {
    case 'ready':
      return {
        type: ESCALATION_CONDITION,
        status: 'True',
        reason: 'TierReady',
        message: `escalation tier ${tier} has a Ready replica to answer hard inputs`,
      };
    case 'not-ready':
      return {
        type: ESCALATION_CONDITION,
        status: 'False',
        reason: 'TierNotReady',
        message: `escalation tier ${tier} has no Ready replica: hard inputs get the edge answer`,
      };
    case 'not-found':
      return {
        type: ESCALATION_CONDITION,
        status: 'False',
        reason: 'TierNotFound',
        message: `escalation tier ${tier} does not exist in this namespace: hard inputs get the edge answer`,
      };
  }
}

const ZERO: EscalationCounters = { requests: 0, hard: 0, escalated: 0, answered: 0, changed: 0, failed: 0, budgetDenied: 0, bytesUp: 0 };

/**
 * Sums one deployment's latest counters over the nodes that report it. A node's counters are
 * cumulative for the workload there, so its latest report is its whole contribution.
 */
export function sumEscalationCounters(key: string, reportsByNode: Iterable<readonly WorkloadReport[] | undefined>): EscalationCounters {
  const sum = { ...ZERO };
  for (const reports of reportsByNode) {
    // Workload keys are unique within a node's reports: at most one per node.
    const c = reports?.find((r) => r.key === key)?.escalation;
    if (!c) continue;
    for (const k of Object.keys(sum) as (keyof EscalationCounters)[]) sum[k] += c[k];
  }
  return sum;
}

/** Whether any node reports escalation counters for this deployment. */
export function reportsEscalation(key: string, telemetry: Iterable<{ workloads?: readonly WorkloadReport[] | undefined }>): boolean {
  for (const t of telemetry) if (t.workloads?.some((r) => r.key === key && r.escalation)) return true;
  return false;
}

/** status.escalation: the tier, whether it can answer, and the counters summed over nodes. */
export function escalationStatus(tier: string, available: boolean, c: EscalationCounters): EscalationStatus {
  const status: EscalationStatus = {
    deployment: tier,
    available,
    requests: c.requests,
    escalated: c.escalated,
    answersChanged: c.changed,
    failed: c.failed,
    budgetDenied: c.budgetDenied,
    uplinkBytes: c.bytesUp,
  };
  // Rounded, so a ratio moving in its fifth digit is no new status; capped, since a node may
  // count an escalation before the request it belongs to.
  if (c.requests > 0) status.ratio = Math.min(1, Math.round((c.escalated / c.requests) * 10_000) / 10_000);
  return status;
}
