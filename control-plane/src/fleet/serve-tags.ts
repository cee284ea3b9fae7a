// The `serve:` tags a node credential carries: one per deployment in the node's current KV
// assignment, which is the source of truth for what the node may serve.
import { Assignment, decode } from '@edgeplane/api';
import { serveTag } from '@edgeplane/trust';
import type { KV } from '@nats-io/kv';

/** Sorted and unique, so two credentials for the same assignment carry the same tags. */
export function serveTagsOf(assignment: Assignment | null): string[] {
  if (!assignment) return [];
  return [...new Set(assignment.workloads.map((w) => serveTag(w.namespace, w.deployment)))].sort();
}

export type AssignmentRead = { ok: true; assignment: Assignment | null } | { ok: false; problem: string };

/** The node's assignment from KV; a missing or deleted key is no assignment. */
export async function readAssignment(kv: KV, node: string): Promise<AssignmentRead> {
  const entry = await kv.get(node);
  if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return { ok: true, assignment: null };
  const d = decode(Assignment, 'assignment', entry.value);
  return d.ok ? { ok: true, assignment: d.value } : { ok: false, problem: d.error.message };
}
