// Prometheus metrics of one control-plane instance, on its own registry so two instances
// in one process (tests) do not share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PRECISIONS, type EdgeModelDeployment } from '@edgeplane/api';
import { OUTCOMES, type QueueMetrics, type Unfinished } from './reconcile/queue.ts';

/** The work queue's `name` label, as controller-runtime names a controller's queue. */
export const QUEUE_NAME = 'edgemodeldeployment';

export const MALFORMED_KINDS = ['hello', 'heartbeat', 'probe', 'enroll', 'renew'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface Metrics {
  registry: Registry;
  reconcileDuration: Histogram<'outcome'>;
  reconcileTotal: Counter<'outcome'>;
  /** workqueue_depth of the deployment queue. */
  queueDepth: { set(value: number): void };
  /** client-go's other work-queue metrics, fed by the deployment queue. */
  workQueue: QueueMetrics;
  /** Where the unfinished-work gauges read from at scrape time (the leader's queue). */
  setUnfinished(source: (() => Unfinished) | undefined): void;
  /** Where the per-deployment gauges (conditions, SLO target) read from at scrape time. */
  watchDeployments(list: () => readonly EdgeModelDeployment[]): void;
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
  const wq = workQueueMetrics(registry);
  if (options.defaultMetrics) {
    collectDefaultMetrics({ register: registry, prefix: 'edgeplane_' });
    // Gauges named like counters, which promtool refuses; nodejs_active_{handles,requests,resources}
    // (by type) carry the same counts.
    for (const n of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`edgeplane_nodejs_active_${n}_total`);
  }
  const m: Metrics = {
    registry,
    reconcileDuration: new Histogram({
      name: 'edgeplane_reconcile_duration_seconds',
      help: 'Time to reconcile one EdgeModelDeployment, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    reconcileTotal: new Counter({ name: 'edgeplane_reconcile_total', help: 'Reconciles by outcome.', labelNames: ['outcome'], registers: [registry] }),
    queueDepth: wq.depth,
    workQueue: wq.sink,
    setUnfinished: wq.setUnfinished,
    watchDeployments: deploymentGauges(registry),
    heartbeatsIngested: new Counter({ name: 'edgeplane_heartbeats_ingested_total', help: 'Heartbeats written to Redis by this replica.', registers: [registry] }),
    heartbeatsDropped: new Counter({ name: 'edgeplane_heartbeats_dropped_total', help: 'Heartbeats dropped because Redis fell behind (the next one supersedes each).', registers: [registry] }),
    heartbeatsRefused: new Counter({
      name: 'edgeplane_heartbeats_refused_total',
      help: 'Heartbeats dropped before any write: from a node with no EdgeNode (unknown-node) or past its rate (rate-limited).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    heartbeatGaps: new Counter({
      name: 'edgeplane_heartbeat_gaps_total',
      help: 'Heartbeats that showed a lost delta (a gap in the node\'s seq): a full heartbeat requested, or not (limited) because the node or the control plane was at its request pace.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    nodesCollected: new Counter({
      name: 'edgeplane_nodes_collected_total',
      help: 'Departed nodes garbage-collected, by what was removed (edgenode, telemetry, assignment).',
      labelNames: ['what'],
      registers: [registry],
    }),
    malformedMessages: new Counter({
      name: 'edgeplane_malformed_messages_total',
      help: 'Fleet messages dropped because they did not parse, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    hellos: new Counter({ name: 'edgeplane_hellos_total', help: 'Hello requests answered, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    placements: new Gauge({ name: 'edgeplane_placements', help: 'Placed replicas by precision (leader only).', labelNames: ['precision'], registers: [registry] }),
    leader: new Gauge({ name: 'edgeplane_leader', help: '1 while this replica holds the leader Lease.', registers: [registry] }),
    kubeWrites: new Counter({ name: 'edgeplane_kube_writes_total', help: 'Writes to the Kubernetes API by resource (the Lease aside).', labelNames: ['resource'], registers: [registry] }),
    kvWrites: new Counter({ name: 'edgeplane_kv_writes_total', help: 'Assignment KV writes by outcome.', labelNames: ['outcome'], registers: [registry] }),
    assignmentSyncs: new Counter({
      name: 'edgeplane_assignment_syncs_total',
      help: 'Level-based passes comparing every KV entry with the desired state: clean, repaired (some entry rewritten), skipped (not every deployment reconciled yet in this term), error.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    assignmentRepublishes: new Counter({ name: 'edgeplane_assignment_republishes_total', help: 'Entries written again because the agent reported other workloads for a few heartbeats.', registers: [registry] }),
    unreachableNodes: new Gauge({ name: 'edgeplane_unreachable_nodes', help: 'Nodes marked unreachable by the liveness sweep.', registers: [registry] }),
    enrollments: new Counter({ name: 'edgeplane_enrollments_total', help: 'Enrolment requests answered, by outcome (accepted or the refusal code).', labelNames: ['outcome'], registers: [registry] }),
    renewals: new Counter({ name: 'edgeplane_credential_renewals_total', help: 'Credential renewal requests answered, by outcome (accepted or the refusal code).', labelNames: ['outcome'], registers: [registry] }),
    revocationPushes: new Counter({ name: 'edgeplane_revocation_pushes_total', help: 'Fleet account updates carrying revocations sent to nats-server, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    revokedKeys: new Gauge({ name: 'edgeplane_revoked_keys', help: 'Node keys revoked in the fleet account as last pushed (leader only).', registers: [registry] }),
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

// client-go's workqueue metrics under the names and buckets controller-runtime registers them
// with, so dashboards written for any controller read ours.
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

function workQueueMetrics(registry: Registry) {
  const labels = { name: QUEUE_NAME };
  const labelNames = ['name'] as const;
  const depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers: [registry] });
  const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers: [registry] });
  const queued = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames,
    buckets: WORKQUEUE_BUCKETS,
    registers: [registry],
  });
  const worked = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames,
    buckets: WORKQUEUE_BUCKETS,
    registers: [registry],
  });
  const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames, registers: [registry] });
  let source: (() => Unfinished) | undefined;
  new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, source?.().totalSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, source?.().longestSeconds ?? 0);
    },
  });
  const depthChild = depth.labels(labels);
  depthChild.set(0);
  adds.inc(labels, 0);
  retries.inc(labels, 0);
  return {
    depth: depthChild,
    sink: {
      added: () => adds.inc(labels),
      queued: (seconds: number) => queued.observe(labels, seconds),
      worked: (seconds: number) => worked.observe(labels, seconds),
      retried: () => retries.inc(labels),
    } satisfies QueueMetrics,
    setUnfinished: (s: (() => Unfinished) | undefined) => {
      source = s;
    },
  };
}

// Per-deployment gauges read from the informer's cache at scrape time (every replica has it,
// so alerts do not depend on which one leads). `workload` is `<namespace>/<name>`, the label
// the agents' inference metrics carry, so the SLO alert joins the two.
function deploymentGauges(registry: Registry): (list: () => readonly EdgeModelDeployment[]) => void {
  let list: () => readonly EdgeModelDeployment[] = () => [];
  new Gauge({
    name: 'edgeplane_deployment_condition',
    help: 'Conditions of each EdgeModelDeployment as its status shows them: 1 for the status (True, False, Unknown) it has.',
    labelNames: ['namespace', 'deployment', 'workload', 'condition', 'status', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of list()) {
        const namespace = d.metadata.namespace ?? '';
        const deployment = d.metadata.name;
        for (const c of d.status?.conditions ?? []) {
          this.set({ namespace, deployment, workload: `${namespace}/${deployment}`, condition: c.type, status: c.status, reason: c.reason ?? '' }, 1);
        }
      }
    },
  });
  new Gauge({
    name: 'edgeplane_deployment_slo_latency_seconds',
    help: 'Target p99 inference latency of each EdgeModelDeployment (spec.slo.latencyMs).',
    labelNames: ['namespace', 'deployment', 'workload'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of list()) {
        const namespace = d.metadata.namespace ?? '';
        this.set({ namespace, deployment: d.metadata.name, workload: `${namespace}/${d.metadata.name}` }, d.spec.slo.latencyMs / 1000);
      }
    },
  });
  return (l) => {
    list = l;
  };
}
