// The tags a node credential carries, from the node's current KV assignment (the source of
// truth for what the node may do): `serve:` per deployment it runs, `escalate:` per deployment
// its workloads send hard examples to.
import { Assignment, decode } from '@edgeplane/api';
import { escalateTag, serveTag } from '@edgeplane/trust';
import type { KV } from '@nats-io/kv';

/** Sorted and unique, so two credentials for the same assignment carry the same tags. */
export function serveTagsOf(assignment: Assignment | null): string[] {
  if (!assignment) return [];
  return [...new Set(assignment.workloads.map((w) => serveTag(w.namespace, w.deployment)))].sort();
}

/** One per escalation tier the workloads name (same namespace as the workload), sorted and unique. */
export function escalateTagsOf(assignment: Assignment | null): string[] {
  if (!assignment) return [];
  const tags = assignment.workloads.flatMap((w) => (w.escalation ? [escalateTag(w.namespace, w.escalation.deployment)] : []));
  return [...new Set(tags)].sort();
}

/** Every tag of a node credential: escalate tags, then serve tags, each sorted. */
export function credentialTagsOf(assignment: Assignment | null): string[] {
  return [...escalateTagsOf(assignment), ...serveTagsOf(assignment)];
}

export type AssignmentRead = { ok: true; assignment: Assignment | null } | { ok: false; problem: string };

/** The node's assignment from KV; a missing or deleted key is no assignment. */
export async function readAssignment(kv: KV, node: string): Promise<AssignmentRead> {
  const entry = await kv.get(node);
  if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return { ok: true, assignment: null };
  const d = decode(Assignment, 'assignment', entry.value);
  return d.ok ? { ok: true, assignment: d.value } : { ok: false, problem: d.error.message };
}
