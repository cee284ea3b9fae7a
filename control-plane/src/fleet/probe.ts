// Bandwidth probe: an agent sends a payload on ep.v1.node.<node>.probe and times the reply,
// which carries the number of bytes received as a JSON number. Any replica answers.
import { nodeFromSubject, subjects } from '@edgeplane/api';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { MalformedReporter } from './malformed.ts';

const encoder = new TextEncoder();

export class ProbeResponder {
  readonly #nc: NatsConnection;
  readonly #malformed: MalformedReporter;
  #sub: Subscription | undefined;

  constructor(nc: NatsConnection, malformed: MalformedReporter) {
    this.#nc = nc;
    this.#malformed = malformed;
  }

  start(): void {
    this.#sub = this.#nc.subscribe(subjects.allProbe, {
      queue: subjects.ingestQueue,
      callback: (err, msg) => {
        if (err) return;
        if (!msg.reply) {
          this.#malformed.report('probe', nodeFromSubject(msg.subject) ?? msg.subject, 'probe without a reply subject');
          return;
        }
        msg.respond(encoder.encode(String(msg.data.length)));
      },
    });
  }

  /**
   * Drained rather than unsubscribed: a probe the server routed here before it saw the
   * unsubscribe is still answered, so a replica stopping in a rollout loses none.
   */
  async stop(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    // A connection already closed has nothing left to deliver.
    if (sub && !sub.isClosed()) await sub.drain().catch(() => undefined);
  }
}
