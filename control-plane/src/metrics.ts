// Prometheus metrics of one control-plane instance, on its own registry so two instances
// in one process (tests) do not share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PRECISIONS } from '@edgeplane/api';
import { OUTCOMES } from './reconcile/queue.ts';

export const MALFORMED_KINDS = ['hello', 'heartbeat', 'probe', 'enroll', 'renew'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface Metrics {
  registry: Registry;
  reconcileDuration: Histogram<'outcome'>;
  reconcileTotal: Counter<'outcome'>;
  queueDepth: Gauge;
  heartbeatsIngested: Counter;
  heartbeatsDropped: Counter;
  heartbeatsRefused: Counter<'reason'>;
  heartbeatGaps: Counter<'outcome'>;
  nodesCollected: Counter<'what'>;
  malformedMessages: Counter<'kind'>;
  hellos: Counter<'outcome'>;
  placements: Gauge<'precision'>;
  leader: Gauge;
  kubeWrites: Counter<'resource'>;
  kvWrites: Counter<'outcome'>;
  assignmentSyncs: Counter<'outcome'>;
  assignmentRepublishes: Counter;
  unreachableNodes: Gauge;
  enrollments: Counter<'outcome'>;
  renewals: Counter<'outcome'>;
  revocationPushes: Counter<'outcome'>;
  revokedKeys: Gauge;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'ep_' });
  const m: Metrics = {
    registry,
    reconcileDuration: new Histogram({
      name: 'ep_reconcile_duration_seconds',
      help: 'Time to reconcile one EdgeModelDeployment, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    reconcileTotal: new Counter({ name: 'ep_reconcile_total', help: 'Reconciles by outcome.', labelNames: ['outcome'], registers: [registry] }),
    queueDepth: new Gauge({ name: 'ep_workqueue_depth', help: 'Deployments waiting to be reconciled.', registers: [registry] }),
    heartbeatsIngested: new Counter({ name: 'ep_heartbeats_ingested_total', help: 'Heartbeats written to Redis by this replica.', registers: [registry] }),
    heartbeatsDropped: new Counter({ name: 'ep_heartbeats_dropped_total', help: 'Heartbeats dropped because Redis fell behind (the next one supersedes each).', registers: [registry] }),
    heartbeatsRefused: new Counter({
      name: 'ep_heartbeats_refused_total',
      help: 'Heartbeats dropped before any write: from a node with no EdgeNode (unknown-node) or past its rate (rate-limited).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    heartbeatGaps: new Counter({
      name: 'ep_heartbeat_gaps_total',
      help: 'Heartbeats that showed a lost delta (a gap in the node\'s seq): a full heartbeat requested, or not (limited) because the node or the control plane was at its request pace.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    nodesCollected: new Counter({
      name: 'ep_nodes_collected_total',
      help: 'Departed nodes garbage-collected, by what was removed (edgenode, telemetry, assignment).',
      labelNames: ['what'],
      registers: [registry],
    }),
    malformedMessages: new Counter({
      name: 'ep_malformed_messages_total',
      help: 'Fleet messages dropped because they did not parse, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    hellos: new Counter({ name: 'ep_hellos_total', help: 'Hello requests answered, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    placements: new Gauge({ name: 'ep_placements', help: 'Placed replicas by precision (leader only).', labelNames: ['precision'], registers: [registry] }),
    leader: new Gauge({ name: 'ep_leader', help: '1 while this replica holds the leader Lease.', registers: [registry] }),
    kubeWrites: new Counter({ name: 'ep_kube_writes_total', help: 'Writes to the Kubernetes API by resource (the Lease aside).', labelNames: ['resource'], registers: [registry] }),
    kvWrites: new Counter({ name: 'ep_kv_writes_total', help: 'Assignment KV writes by outcome.', labelNames: ['outcome'], registers: [registry] }),
    assignmentSyncs: new Counter({
      name: 'ep_assignment_syncs_total',
      help: 'Level-based passes comparing every KV entry with the desired state: clean, repaired (some entry rewritten), skipped (not every deployment reconciled yet in this term), error.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    assignmentRepublishes: new Counter({ name: 'ep_assignment_republishes_total', help: 'Entries written again because the agent reported other workloads for a few heartbeats.', registers: [registry] }),
    unreachableNodes: new Gauge({ name: 'ep_unreachable_nodes', help: 'Nodes marked unreachable by the liveness sweep.', registers: [registry] }),
    enrollments: new Counter({ name: 'ep_enrollments_total', help: 'Enrolment requests answered, by outcome (accepted or the refusal code).', labelNames: ['outcome'], registers: [registry] }),
    renewals: new Counter({ name: 'ep_credential_renewals_total', help: 'Credential renewal requests answered, by outcome (accepted or the refusal code).', labelNames: ['outcome'], registers: [registry] }),
    revocationPushes: new Counter({ name: 'ep_revocation_pushes_total', help: 'Fleet account updates carrying revocations sent to nats-server, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    revokedKeys: new Gauge({ name: 'ep_revoked_keys', help: 'Node keys revoked in the fleet account as last pushed (leader only).', registers: [registry] }),
  };
  // Zero series up front, so a scrape shows every label before the first event.
  for (const kind of MALFORMED_KINDS) m.malformedMessages.inc({ kind }, 0);
  for (const reason of ['unknown-node', 'rate-limited']) m.heartbeatsRefused.inc({ reason }, 0);
  for (const outcome of ['requested', 'limited']) m.heartbeatGaps.inc({ outcome }, 0);
  for (const outcome of OUTCOMES) m.reconcileTotal.inc({ outcome }, 0);
  for (const precision of PRECISIONS) m.placements.set({ precision }, 0);
  m.leader.set(0);
  return m;
}
