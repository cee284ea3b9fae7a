// Node lifecycle decisions, after Kubernetes' node lifecycle controller. Pure: the node monitor
// feeds in what Redis and the EdgeNode say and the clock, and acts on what comes out.
//
// - A node is NotReady only once nothing was heard from it for the grace period. Silence the
//   control plane caused (leader start, Redis flushed or away, NATS away) does not count: the
//   grace period restarts when the control plane can hear again, and a node with no telemetry
//   record is unknown, not stale.
// - Its replicas are placed elsewhere only after the eviction delay, counted from NotReady.
// - When most nodes of the fleet, or of a site, are NotReady together the fault is more likely
//   on our side (or the site's uplink): nothing there is evicted, and the eviction delay
//   restarts when the disruption ends.

/** The label that names a node's site for full-disruption mode (the Kubernetes topology label). */
export const SITE_LABEL = 'topology.kubernetes.io/zone';

export interface LifecycleSettings {
  /** Silence longer than this makes a node NotReady, ms (`nodeMonitorGracePeriod`). */
  gracePeriodMs: number;
  /** A NotReady node's replicas are placed elsewhere after this long, ms. */
  evictionDelayMs: number;
  /** At least this fraction of a scope NotReady is a full disruption of that scope (0..1]. */
  fullDisruptionFraction: number;
  /** A scope (fleet or site) with fewer nodes is never in full disruption. */
  fullDisruptionMinNodes: number;
}

export interface Readiness {
  ready: boolean;
  /** When the node last became NotReady, ms; absent while Ready. */
  notReadySinceMs?: number;
}

export interface ReadinessInput {
  nowMs: number;
  /** Last heartbeat or hello as recorded in Redis; null when there is no record. */
  lastSeenMs: number | null;
  /**
   * Since when the control plane has been able to hear nodes without interruption: the start
   * of its term, or the end of its last telemetry outage (Redis flushed or away, NATS away).
   */
  listeningSinceMs: number;
  /** The previous decision (in memory, or from the EdgeNode's Reachable condition). */
  prev: Readiness | undefined;
}

/**
 * Ready when a heartbeat arrived within the grace period. A node that was Ready keeps that
 * until it has been silent for the grace period while the control plane was listening, so a
 * record lost with Redis, or heartbeats dropped while we could not hear, cost it nothing.
 * Lack of news never makes a NotReady node Ready.
 */
export function nodeReadiness(input: ReadinessInput, s: Pick<LifecycleSettings, 'gracePeriodMs'>): Readiness {
  const { nowMs, lastSeenMs, listeningSinceMs, prev } = input;
  const heard = lastSeenMs !== null && nowMs - lastSeenMs <= s.gracePeriodMs;
  const benefitOfDoubt = prev?.ready !== false && nowMs - Math.max(lastSeenMs ?? -Infinity, listeningSinceMs) <= s.gracePeriodMs;
  if (heard || benefitOfDoubt) return { ready: true };
  return { ready: false, notReadySinceMs: prev?.ready === false && prev.notReadySinceMs !== undefined ? prev.notReadySinceMs : nowMs };
}

export interface ScopeMember {
  /** The node's site (SITE_LABEL), if it has one. */
  site?: string | undefined;
  ready: boolean;
}

export interface Disruption {
  /** Most of the fleet is NotReady: nothing anywhere is evicted. */
  fleet: boolean;
  /** Sites most of whose nodes are NotReady: nothing there is evicted. */
  sites: ReadonlySet<string>;
}

const fullyDisrupted = (notReady: number, total: number, s: LifecycleSettings) =>
  total >= s.fullDisruptionMinNodes && total > 0 && notReady / total >= s.fullDisruptionFraction;

/** Which scopes are in full disruption now. */
export function disruption(nodes: Iterable<ScopeMember>, s: LifecycleSettings): Disruption {
  let total = 0;
  let notReady = 0;
  const perSite = new Map<string, { total: number; notReady: number }>();
  for (const n of nodes) {
    total++;
    if (!n.ready) notReady++;
    if (n.site === undefined || n.site === '') continue;
    const site = perSite.get(n.site) ?? { total: 0, notReady: 0 };
    site.total++;
    if (!n.ready) site.notReady++;
    perSite.set(n.site, site);
  }
  const sites = new Set<string>();
  for (const [name, c] of perSite) if (fullyDisrupted(c.notReady, c.total, s)) sites.add(name);
  return { fleet: fullyDisrupted(notReady, total, s), sites };
}

export function inDisruption(site: string | undefined, d: Disruption): boolean {
  return d.fleet || (site !== undefined && d.sites.has(site));
}

export interface EvictionInput {
  nowMs: number;
  readiness: Readiness;
  /** The node's scope is in full disruption now. */
  disrupted: boolean;
  /** When its scope was last seen in full disruption, ms; the eviction delay restarts then. */
  lastDisruptedMs?: number | undefined;
}

/** Whether a node's replicas may be placed elsewhere now. */
export function mayEvict(input: EvictionInput, s: Pick<LifecycleSettings, 'evictionDelayMs'>): boolean {
  const { readiness, disrupted, nowMs } = input;
  if (readiness.ready || disrupted || readiness.notReadySinceMs === undefined) return false;
  const from = Math.max(readiness.notReadySinceMs, input.lastDisruptedMs ?? -Infinity);
  return nowMs - from >= s.evictionDelayMs;
}

/** What placement and the publisher need to know about a node. */
export interface NodeLifecycle {
  ready: boolean;
  /** NotReady past the eviction delay and outside a full disruption: its replicas go elsewhere. */
  evicted: boolean;
}
