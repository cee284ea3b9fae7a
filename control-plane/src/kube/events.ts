// Kubernetes Events (events.k8s.io/v1) on EdgeModelDeployments: placement decisions and failures.
import { randomBytes } from 'node:crypto';
import { V1MicroTime, type EventsV1Api } from '@kubernetes/client-node';
import type { EdgeModelDeployment } from '@edgeplane/api';
import type { Logger } from 'pino';
import { describeKubeError } from './errors.ts';

export const REPORTING_CONTROLLER = 'edgeplane.io/control-plane';
const MAX_NOTE = 1024;

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  events: EventsV1Api;
  identity: string;
  log: Logger;
  mayWrite?: () => boolean;
  onWrite?: (kind: string) => void;
}

export class EventRecorder {
  readonly #o: EventRecorderOptions;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
  }

  /** Best effort: an event that cannot be written is logged, never fails the caller. */
  async record(obj: EdgeModelDeployment, type: EventType, reason: string, action: string, note: string): Promise<void> {
    if (this.#o.mayWrite && !this.#o.mayWrite()) return;
    const namespace = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name ?? '';
    try {
      await this.#o.events.createNamespacedEvent({
        namespace,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
          eventTime: new V1MicroTime(),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.#o.identity.slice(0, 128),
          action,
          reason,
          type,
          note: note.length > MAX_NOTE ? `${note.slice(0, MAX_NOTE - 3)}...` : note,
          regarding: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name,
            namespace,
            uid: obj.metadata.uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
        },
      });
      this.#o.onWrite?.('events');
    } catch (err) {
      this.#o.log.warn({ deployment: `${namespace}/${name}`, reason, err: describeKubeError(err) }, 'could not record event');
    }
  }
}
