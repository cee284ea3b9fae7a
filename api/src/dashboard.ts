// The dashboard's contract between the control plane (control-plane/src/dashboard) and the
// page (dashboard/): every JSON body and server-sent event, as zod schemas. All routes live
// under /dashboard, behind the same authentication as /api/v1.
//
//   GET /dashboard/?token=<bearer>   Checks the token, sets it as the HttpOnly, SameSite=Strict
//                                    cookie `ep_dashboard` (Path=/dashboard) and answers 303 to
//                                    /dashboard/ so the token leaves the address bar. EventSource
//                                    cannot send headers, hence the cookie. A bad token: 401 page.
//   GET /dashboard/                  index.html (public: it holds no data). Assets: any other
//   GET /dashboard/<asset>           path not under /dashboard/api/ (public), from dashboard/dist/.
//                                    No build: 503 page naming `npm run build -w @edgeplane/dashboard`.
//   Every route below accepts the cookie or an `Authorization: Bearer` header; 401 without.
//   GET /dashboard/api/fleet                     FleetSnapshot (needs list edgenodes and list
//                                                edgemodeldeployments in all namespaces).
//                                                Compressed (br or gzip) when Accept-Encoding
//                                                allows; built once per change of the fleet.
//   GET /dashboard/api/nodes/:name               NodeDetail (get edgenodes)
//   GET /dashboard/api/nodes/:name/history       NodeHistory, the last hour (get edgenodes)
//   GET /dashboard/api/deployments/:ns/:name     DeploymentView (get edgemodeldeployments)
//   GET /dashboard/api/events[?node=<name>]      text/event-stream (as /fleet). Event names are
//                                                DashboardEvent['type']; `data` is one JSON
//                                                DashboardEvent. With ?node=, `sample` events for
//                                                that node follow too (every 10 s). A `hello`
//                                                event comes first; load /fleet after it, then
//                                                apply upserts (newer `rev` wins). Heartbeat
//                                                comments (`: hb`) every 15 s. A client that reads
//                                                too slowly is dropped: reconnect and reload.
// Errors: { code, message } as the /api/v1 routes.
import { z } from 'zod';
import { Accelerator, LinkType, PowerSource, Precision } from './hardware.ts';
import { PlacementPhase } from './edgemodeldeployment.ts';
import { Condition } from './meta.ts';
import { EscalationStatus } from './escalation.ts';

export const DASHBOARD_PATH = '/dashboard';
export const DASHBOARD_API_PATH = '/dashboard/api';
export const DASHBOARD_COOKIE = 'ep_dashboard';
/** Label whose value groups nodes by site on the fleet view. */
export const DASHBOARD_SITE_LABEL = 'topology.edgeplane.io/site';
/** One history sample every this many ms, kept for HISTORY_WINDOW_MS. */
export const HISTORY_INTERVAL_MS = 10_000;
export const HISTORY_WINDOW_MS = 3_600_000;

export const dashboardRoutes = {
  fleet: `${DASHBOARD_API_PATH}/fleet`,
  node: (name: string) => `${DASHBOARD_API_PATH}/nodes/${encodeURIComponent(name)}`,
  nodeHistory: (name: string) => `${DASHBOARD_API_PATH}/nodes/${encodeURIComponent(name)}/history`,
  deployment: (namespace: string, name: string) => `${DASHBOARD_API_PATH}/deployments/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
  events: (node?: string) => `${DASHBOARD_API_PATH}/events${node ? `?node=${encodeURIComponent(node)}` : ''}`,
} as const;

export const DashPower = z.object({
  source: PowerSource,
  batteryPercent: z.number().nullable(),
  charging: z.boolean(),
});
export type DashPower = z.infer<typeof DashPower>;

/** The uplink; `type` is the link class placement reasons about (ethernet ... lora). */
export const DashLink = z.object({
  type: LinkType,
  metered: z.boolean(),
  bandwidthMbps: z.number().nullable(),
  rttMs: z.number().nullable(),
});
export type DashLink = z.infer<typeof DashLink>;

/** One replica on a node, as its agent reports it (NodeDetail; the fleet view has FleetWorkload). */
export const DashWorkload = z.object({
  deployment: z.string().describe('`<namespace>/<name>`'),
  variant: z.string(),
  /** The variant's precision (its tier); null when the deployment no longer lists the variant. */
  precision: Precision.nullable(),
  accelerator: z.string(),
  phase: PlacementPhase,
  p99Ms: z.number().nullable(),
  rps: z.number().nullable(),
});
export type DashWorkload = z.infer<typeof DashWorkload>;

/**
 * A replica as the fleet view shows it: no latency or rate, which move with every heartbeat
 * (NodeDetail and the node's samples have them), so a FleetNode changes only with its `rev`.
 */
export const FleetWorkload = DashWorkload.omit({ p99Ms: true, rps: true });
export type FleetWorkload = z.infer<typeof FleetWorkload>;

/** What the fleet view shows of an accelerator; NodeDetail has all of it. */
export const FleetAccelerator = Accelerator.pick({ id: true, type: true, model: true });
export type FleetAccelerator = z.infer<typeof FleetAccelerator>;

/**
 * A node as the fleet view shows it (the snapshot and the stream's upserts): only what its row
 * renders and filters by, so nothing in it changes without its `rev` (the heartbeat time,
 * latencies and rates are in NodeDetail), and the server serialises each node once per change.
 */
export const FleetNode = z.object({
  name: z.string(),
  /** Value of DASHBOARD_SITE_LABEL; null when unlabelled. */
  site: z.string().nullable(),
  /** For the filter's `label=value` terms. */
  labels: z.record(z.string(), z.string()),
  unschedulable: z.boolean(),
  ready: z.boolean(),
  reachable: z.boolean(),
  accelerators: z.array(FleetAccelerator),
  power: DashPower.nullable(),
  link: DashLink.nullable(),
  workloads: z.array(FleetWorkload),
  /** Increases with every change the server sends for this node. */
  rev: z.number(),
});
export type FleetNode = z.infer<typeof FleetNode>;

export const FleetDeployment = z.object({
  namespace: z.string(),
  name: z.string(),
  replicas: z.number().describe('Desired.'),
  readyReplicas: z.number(),
  unplacedReplicas: z.number(),
  /** Replicas per phase (Pending, Downloading, Loading, Ready, Failed); absent keys are 0. */
  phases: z.partialRecord(PlacementPhase, z.number()),
  /** Replicas per precision; absent keys are 0. */
  precisions: z.partialRecord(Precision, z.number()),
  conditions: z.array(Condition),
  /** The Degraded condition's reason and message when it is True, else null. */
  degraded: z.object({ reason: z.string(), message: z.string() }).nullable(),
  rev: z.number(),
});
export type FleetDeployment = z.infer<typeof FleetDeployment>;

export const FleetSnapshot = z.object({
  /** Server time the snapshot was taken, ms since the epoch: a fleet unchanged since gets the same snapshot. */
  atMs: z.number(),
  nodes: z.array(FleetNode),
  deployments: z.array(FleetDeployment),
});
export type FleetSnapshot = z.infer<typeof FleetSnapshot>;

export const DashEvent = z.object({
  type: z.string().describe('Normal or Warning.'),
  reason: z.string(),
  message: z.string(),
  count: z.number(),
  lastMs: z.number().nullable(),
});
export type DashEvent = z.infer<typeof DashEvent>;

export const DashPlacement = z.object({
  node: z.string(),
  accelerator: z.string(),
  variant: z.string(),
  precision: Precision,
  phase: PlacementPhase,
  /** Measured by the agent; null before its first report. */
  p99Ms: z.number().nullable(),
  predictedP99Ms: z.number(),
  sloP99Ms: z.number(),
  /** Why this tier, e.g. `battery 18% < 20%: int8`. */
  tierReason: z.string(),
  reason: z.string().nullable(),
  message: z.string().nullable(),
});
export type DashPlacement = z.infer<typeof DashPlacement>;

/**
 * Joint inference as the deployment view shows it: status.escalation, and the
 * EscalationAvailable condition's reason and message while it is False.
 */
export const DashEscalation = EscalationStatus.extend({
  unavailable: z.object({ reason: z.string(), message: z.string() }).nullable(),
});
export type DashEscalation = z.infer<typeof DashEscalation>;

export const DeploymentView = FleetDeployment.extend({
  sloP99Ms: z.number(),
  /** Null unless the deployment reports status.escalation (it has spec.escalation). */
  escalation: DashEscalation.nullable(),
  placements: z.array(DashPlacement),
  /** Desired replicas no node could take, and why (kube-scheduler style). */
  unplaced: z.object({ count: z.number(), explanation: z.string().nullable() }),
  events: z.array(DashEvent),
});
export type DeploymentView = z.infer<typeof DeploymentView>;

export const DashAccelerator = Accelerator.extend({
  /** Busy fraction 0..1 from the last heartbeat; null before one. */
  utilization: z.number().nullable(),
  queue: z.number().nullable(),
});

export const NodeDetail = FleetNode.omit({ accelerators: true, workloads: true }).extend({
  /** The last heartbeat, ms since the epoch; null before one. */
  lastSeenMs: z.number().nullable(),
  accelerators: z.array(DashAccelerator),
  /** With the latest p99 and rate. */
  workloads: z.array(DashWorkload),
  conditions: z.array(Condition),
  events: z.array(DashEvent),
});
export type NodeDetail = z.infer<typeof NodeDetail>;

/** Columnar: row i of every array is one sample (nulls where the node reported nothing). */
export const NodeHistory = z.object({
  node: z.string(),
  intervalMs: z.number(),
  /** Sample times, ms since the epoch, ascending. */
  t: z.array(z.number()),
  batteryPercent: z.array(z.number().nullable()),
  charging: z.array(z.boolean()),
  reachable: z.array(z.boolean()),
  /** LINK_TYPES name or null. */
  link: z.array(LinkType.nullable()),
  /** Per workload (`<namespace>/<name>`), aligned with t. */
  workloads: z.array(
    z.object({
      deployment: z.string(),
      p99Ms: z.array(z.number().nullable()),
      precision: z.array(Precision.nullable()),
    }),
  ),
  /** Where a workload's precision changed: the sample time and both tiers. */
  tierChanges: z.array(z.object({ t: z.number(), deployment: z.string(), from: Precision.nullable(), to: Precision.nullable() })),
});
export type NodeHistory = z.infer<typeof NodeHistory>;

/** One sample as pushed live (the same columns as NodeHistory, one row). */
export const HistorySample = z.object({
  t: z.number(),
  batteryPercent: z.number().nullable(),
  charging: z.boolean(),
  reachable: z.boolean(),
  link: LinkType.nullable(),
  workloads: z.array(z.object({ deployment: z.string(), p99Ms: z.number().nullable(), precision: Precision.nullable() })),
});
export type HistorySample = z.infer<typeof HistorySample>;

export const DashboardEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), atMs: z.number(), heartbeatMs: z.number() }),
  z.object({ type: z.literal('node'), node: FleetNode }),
  z.object({ type: z.literal('node-removed'), name: z.string() }),
  z.object({ type: z.literal('deployment'), deployment: FleetDeployment }),
  z.object({ type: z.literal('deployment-removed'), namespace: z.string(), name: z.string() }),
  z.object({ type: z.literal('sample'), node: z.string(), sample: HistorySample }),
]);
export type DashboardEvent = z.infer<typeof DashboardEvent>;
export type DashboardEventType = DashboardEvent['type'];
