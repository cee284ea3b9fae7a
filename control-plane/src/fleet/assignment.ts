// A node's desired state: the union of every deployment placed on it. Pure.
import { MAX_WORKLOADS_PER_NODE, PROTOCOL_VERSION, WorkloadAssignment, type Assignment, type EdgeModelDeploymentSpec } from '@edgeplane/api';
import { z } from 'zod';
import type { Placement } from '../placement/types.ts';

export interface PlacedDeployment {
  key: string;
  spec: EdgeModelDeploymentSpec;
  placements: readonly Placement[];
}

/**
 * Workload keys are unique within a node's assignment, so a deployment with several
 * replicas on one node runs once there, on the first accelerator by name; the agent
 * balances requests across its accelerators.
 *
 * Placement keeps a node within MAX_WORKLOADS_PER_NODE; should two plans race past it, the
 * deployments last by key wait for their re-plan rather than the whole document failing to
 * encode, which would hold back every tenant of the node.
 */
export function nodeWorkloads(node: string, deployments: readonly PlacedDeployment[]): WorkloadAssignment[] {
  const out: WorkloadAssignment[] = [];
  for (const d of [...deployments].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (out.length >= MAX_WORKLOADS_PER_NODE) break;
    const here = d.placements.filter((p) => p.node === node).sort((a, b) => (a.accelerator < b.accelerator ? -1 : 1));
    const p = here[0];
    if (!p) continue;
    const variant = d.spec.model.variants.find((v) => v.name === p.variant);
    if (!variant) continue;
    const slash = d.key.indexOf('/');
    out.push({
      key: d.key,
      namespace: d.key.slice(0, slash),
      deployment: d.key.slice(slash + 1),
      model: d.spec.model.name,
      task: d.spec.model.task,
      variant: {
        name: variant.name,
        precision: variant.precision,
        profile: variant.profile,
        uri: variant.uri,
        sha256: variant.sha256,
        sizeBytes: variant.sizeBytes,
        memoryMiB: variant.memoryMiB,
        ...(variant.signature ? { signature: variant.signature } : {}),
      },
      accelerator: p.accelerator,
      maxBatch: d.spec.batching.maxBatch,
      maxQueueDelayMs: d.spec.batching.maxQueueDelayMs,
      latencySloMs: d.spec.slo.latencyMs,
    });
  }
  return out;
}

export function assignmentDocument(node: string, workloads: WorkloadAssignment[], nowMs: number): Assignment {
  return { v: PROTOCOL_VERSION, node, workloads, issuedAtMs: nowMs };
}

const Workloads = z.array(WorkloadAssignment);

/**
 * What decides whether a write is needed: the workloads, not the issue time. Parsed first,
 * so a document read back from KV and one built here compare equal field for field.
 */
export function workloadsFingerprint(workloads: readonly WorkloadAssignment[]): string {
  return JSON.stringify(Workloads.parse(workloads));
}
