// Kubernetes Events about one object, for the deployment and node views: the newest first,
// a few only. Best effort: without the right to list events (`list` on events.k8s.io events,
// which the chart grants) the views show none and the failure is logged once.
import type { EventsV1Api, EventsV1Event } from '@kubernetes/client-node';
import type { DashEvent } from '@edgeplane/api';
import type { Logger } from 'pino';
import { describeKubeError } from '../kube/errors.ts';

export const MAX_VIEW_EVENTS = 50;

export interface ObjectRef {
  kind: string;
  /** Where the events live: the object's namespace, `default` for EdgeNodes. */
  namespace: string;
  name: string;
}

const ms = (v: unknown): number | null => {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
};

export function dashEvent(e: EventsV1Event): DashEvent {
  const last = ms(e.series?.lastObservedTime) ?? ms(e.eventTime) ?? ms(e.deprecatedLastTimestamp) ?? ms(e.metadata?.creationTimestamp);
  return {
    type: e.type ?? 'Normal',
    reason: e.reason ?? '',
    message: e.note ?? '',
    count: e.series?.count ?? e.deprecatedCount ?? 1,
    lastMs: last,
  };
}

export class EventReader {
  readonly #o: { events?: EventsV1Api | undefined; log: Logger };
  #warned = false;

  constructor(events: EventsV1Api | undefined, log: Logger) {
    this.#o = { events, log };
  }

  async about(ref: ObjectRef): Promise<DashEvent[]> {
    if (!this.#o.events) return [];
    try {
      const list = await this.#o.events.listNamespacedEvent({
        namespace: ref.namespace,
        fieldSelector: `regarding.kind=${ref.kind},regarding.name=${ref.name}`,
        limit: 500,
      });
      return list.items
        .map(dashEvent)
        .sort((a, b) => (b.lastMs ?? 0) - (a.lastMs ?? 0))
        .slice(0, MAX_VIEW_EVENTS);
    } catch (err) {
      if (!this.#warned) {
        this.#warned = true;
        this.#o.log.warn({ kind: ref.kind, name: ref.name, err: describeKubeError(err) }, 'cannot list events for the dashboard; its views show none');
      }
      return [];
    }
  }
}
