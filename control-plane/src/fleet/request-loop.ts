// One subscription that serves requests in a queue group: each request is handled on its own,
// in-flight handlers are tracked so stop() waits for them, and an optional bound answers the
// excess at once (the caller says how) instead of queueing without limit.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { subjects } from '@edgeplane/api';

export interface RequestLoopOptions {
  nc: NatsConnection;
  subject: string;
  handle: (msg: Msg) => Promise<void>;
  /** Requests handled at once; beyond it `onBusy` answers. Absent: no bound. */
  maxInFlight?: number;
  onBusy?: (msg: Msg) => void;
}

export class RequestLoop {
  readonly #o: RequestLoopOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #sub: Subscription | undefined;

  constructor(options: RequestLoopOptions) {
    this.#o = options;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  start(): void {
    if (this.#sub) return;
    const { nc, subject, handle, maxInFlight, onBusy } = this.#o;
    this.#sub = nc.subscribe(subject, {
      queue: subjects.ingestQueue,
      callback: (err, msg) => {
        if (err) return;
        if (maxInFlight !== undefined && this.#inFlight.size >= maxInFlight) {
          onBusy?.(msg);
          return;
        }
        const p = handle(msg).finally(() => this.#inFlight.delete(p));
        this.#inFlight.add(p);
      },
    });
  }

  async stop(): Promise<void> {
    // Drained, not unsubscribed: a request the server routed here before it saw the
    // unsubscribe is still handled, so a replica stopping in a rollout drops none.
    const sub = this.#sub;
    this.#sub = undefined;
    // A connection already closed has nothing left to deliver.
    if (sub && !sub.isClosed()) await sub.drain().catch(() => undefined);
    await Promise.allSettled([...this.#inFlight]);
  }
}
