// Events on EdgeNodes, as kubelet and the node lifecycle controller record them on Nodes:
// registered, not ready, ready again, cordoned, uncordoned, revoked. Transitions come from the
// EdgeNode informer (every replica follows them; only the leader writes), and isomorphic Events
// are aggregated into series (event-series.ts).
import { randomBytes } from 'node:crypto';
import { V1MicroTime, PatchStrategy, setHeaderOptions, type EventsV1Api } from '@kubernetes/client-node';
import { API_VERSION, EN_KIND, NODE_IDENTITY_ANNOTATIONS, type EdgeNode } from '@edgeplane/api';
import type { Logger } from 'pino';
import { describeKubeError } from './errors.ts';
import { EventSeries, SERIES_REFRESH_MS, type SeriesEntry } from './event-series.ts';
import { REPORTING_CONTROLLER } from './events.ts';

/** Events about cluster-scoped objects live in `default`, as client-go records them. */
const EVENT_NAMESPACE = 'default';
/** An EdgeNode added this recently counts as registered; older ones were listed after a restart. */
const REGISTERED_WITHIN_MS = 120_000;

export interface NodeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

interface NodeState {
  ready: boolean;
  unschedulable: boolean;
  revoked: boolean;
}

function stateOf(node: EdgeNode): NodeState {
  return {
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
    unschedulable: node.spec?.unschedulable ?? false,
    revoked: node.metadata.annotations?.[NODE_IDENTITY_ANNOTATIONS.revoked] === 'true',
  };
}

/** The Events one change of an EdgeNode calls for; `prev` undefined: the node was just added. */
export function nodeTransitions(prev: EdgeNode | undefined, next: EdgeNode, nowMs: number): NodeEvent[] {
  const name = next.metadata.name ?? '';
  const b = stateOf(next);
  const out: NodeEvent[] = [];
  if (prev === undefined) {
    const created = Date.parse(next.metadata.creationTimestamp ?? '');
    if (Number.isFinite(created) && nowMs - created <= REGISTERED_WITHIN_MS) {
      out.push({ type: 'Normal', reason: 'RegisteredNode', action: 'Register', note: `Node ${name} registered: its agent said hello` });
    }
    return out;
  }
  const a = stateOf(prev);
  const reason = next.status?.conditions?.find((c) => c.type === 'Ready');
  if (a.ready && !b.ready) {
    out.push({ type: 'Warning', reason: 'NodeNotReady', action: 'StatusChange', note: `Node ${name} status is now: NodeNotReady${reason?.message ? ` (${reason.message})` : ''}` });
  } else if (!a.ready && b.ready) {
    out.push({ type: 'Normal', reason: 'NodeReady', action: 'StatusChange', note: `Node ${name} status is now: NodeReady` });
  }
  if (!a.unschedulable && b.unschedulable) out.push({ type: 'Normal', reason: 'NodeNotSchedulable', action: 'Cordon', note: `Node ${name} status is now: NodeNotSchedulable` });
  else if (a.unschedulable && !b.unschedulable) out.push({ type: 'Normal', reason: 'NodeSchedulable', action: 'Uncordon', note: `Node ${name} status is now: NodeSchedulable` });
  if (!a.revoked && b.revoked) out.push({ type: 'Warning', reason: 'NodeRevoked', action: 'Revoke', note: `Node ${name} was revoked: its credential is refused from now on` });
  return out;
}

export interface NodeEventsOptions {
  events: EventsV1Api;
  identity: string;
  log: Logger;
  mayWrite?: () => boolean;
  onWrite?: (kind: string) => void;
  now?: () => number;
  series?: EventSeries;
}

export class NodeEvents {
  readonly #o: NodeEventsOptions;
  readonly #nodes = new Map<string, EdgeNode>();
  readonly #series: EventSeries;
  readonly #timer: NodeJS.Timeout;

  constructor(options: NodeEventsOptions) {
    this.#o = options;
    this.#series = options.series ?? new EventSeries();
    // The periodic write of counts that grew since (client-go refreshes series every 30 minutes).
    this.#timer = setInterval(() => void this.flush(), Math.min(SERIES_REFRESH_MS, 60_000));
    this.#timer.unref();
  }

  /** An informer change: records the Events it calls for. */
  observe(type: 'add' | 'update' | 'delete', name: string, node: EdgeNode): void {
    if (type === 'delete') {
      this.#nodes.delete(name);
      return;
    }
    const prev = this.#nodes.get(name);
    this.#nodes.set(name, node);
    for (const e of nodeTransitions(prev, node, this.#now())) void this.record(node, e);
  }

  async record(node: EdgeNode, e: NodeEvent): Promise<void> {
    if (this.#o.mayWrite && !this.#o.mayWrite()) return;
    const name = node.metadata.name ?? '';
    const key = [node.metadata.uid ?? name, e.type, e.reason, e.action, e.note].join('\u0000');
    const nowMs = this.#now();
    const step = this.#series.observe(key, nowMs, () => `${name}.${nowMs.toString(16)}${randomBytes(3).toString('hex')}`);
    try {
      if (step.kind === 'create') {
        await this.#o.events.createNamespacedEvent({
          namespace: EVENT_NAMESPACE,
          body: {
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            metadata: { name: step.entry.name, namespace: EVENT_NAMESPACE },
            eventTime: new V1MicroTime(nowMs),
            reportingController: REPORTING_CONTROLLER,
            reportingInstance: this.#o.identity.slice(0, 128),
            action: e.action,
            reason: e.reason,
            type: e.type,
            note: e.note,
            regarding: { apiVersion: API_VERSION, kind: EN_KIND, name, uid: node.metadata.uid, resourceVersion: node.metadata.resourceVersion },
          },
        });
        this.#o.onWrite?.('events');
      } else if (step.kind === 'series') {
        await this.#writeSeries(step.entry);
      }
    } catch (err) {
      this.#o.log.warn({ node: name, reason: e.reason, err: describeKubeError(err) }, 'could not record event');
    }
  }

  /** Writes the series whose counts grew and are due, and those finishing unwritten. */
  async flush(): Promise<void> {
    if (this.#o.mayWrite && !this.#o.mayWrite()) return;
    const nowMs = this.#now();
    for (const entry of [...this.#series.due(nowMs), ...this.#series.finish(nowMs)]) {
      await this.#writeSeries(entry).catch((err: unknown) => this.#o.log.warn({ event: entry.name, err: describeKubeError(err) }, 'could not update event series'));
    }
  }

  async #writeSeries(entry: SeriesEntry): Promise<void> {
    await this.#o.events.patchNamespacedEvent(
      { namespace: EVENT_NAMESPACE, name: entry.name, body: { series: { count: entry.count, lastObservedTime: new V1MicroTime(entry.lastObservedMs) } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.#o.onWrite?.('events');
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }
}
