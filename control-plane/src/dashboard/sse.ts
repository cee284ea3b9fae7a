// Server-sent events to dashboard pages. Changes are coalesced: an upsert waiting to go out is
// replaced by a newer one for the same node or deployment, and each flush (once a second) sends
// at most a byte budget, oldest change first, leaving the rest for the next flush; so a fleet in
// turmoil costs a bounded bandwidth and a bounded memory (one entry per node or deployment).
// The same bytes go to every client; a client whose socket buffer passes its bound is dropped
// (and counted) rather than buffered for without end: it reconnects and reloads the snapshot.
import type { ServerResponse } from 'node:http';
import type { DashboardEvent } from '@edgeplane/api';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SseHubOptions {
  log: Logger;
  registry?: Registry;
  /** Most bytes of changes sent per second to each client; default 256 KiB. */
  maxBytesPerSecond?: number;
  /** Changes go out this often, ms; default 1000. */
  flushMs?: number;
  /** A comment line this often keeps proxies from closing an idle stream, ms; default 15 s. */
  heartbeatMs?: number;
  /** A client whose unsent bytes pass this is dropped; default 1 MiB. */
  maxClientBufferBytes?: number;
}

interface Client {
  res: ServerResponse;
  /** The node whose samples this client follows, if any. */
  node: string | undefined;
}

export function frame(event: DashboardEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

function keyOf(e: DashboardEvent): string | null {
  switch (e.type) {
    case 'node':
      return `n/${e.node.name}`;
    case 'node-removed':
      return `n/${e.name}`;
    case 'deployment':
      return `d/${e.deployment.namespace}/${e.deployment.name}`;
    case 'deployment-removed':
      return `d/${e.namespace}/${e.name}`;
    default:
      return null;
  }
}

export class SseHub {
  readonly #o: SseHubOptions;
  readonly #clients = new Set<Client>();
  /** Changes not sent yet, oldest first; a newer change for a key replaces (and requeues) it. */
  readonly #pending = new Map<string, string>();
  /** Latest sample frame per followed node. */
  readonly #samples = new Map<string, string>();
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  readonly #dropped: Counter | undefined;
  readonly #sent: Counter | undefined;
  #droppedCount = 0;
  #sentBytes = 0;

  constructor(options: SseHubOptions) {
    this.#o = options;
    if (options.registry) {
      const registers = [options.registry];
      this.#dropped = new Counter({ name: 'edgeplane_dashboard_sse_clients_dropped_total', help: 'Dashboard event streams closed because the client read too slowly.', registers });
      this.#sent = new Counter({ name: 'edgeplane_dashboard_sse_sent_bytes_total', help: 'Bytes of dashboard events written, all clients.', registers });
      const clients = this.#clients;
      new Gauge({
        name: 'edgeplane_dashboard_sse_clients',
        help: 'Dashboard event streams open.',
        registers,
        collect() {
          this.set(clients.size);
        },
      });
    }
  }

  start(): void {
    this.#flushTimer = setInterval(() => this.flush(), this.#o.flushMs ?? 1000);
    this.#flushTimer.unref();
    this.#heartbeatTimer = setInterval(() => this.#broadcast(': hb\n\n'), this.#o.heartbeatMs ?? 15_000);
    this.#heartbeatTimer.unref();
  }

  stop(): void {
    clearInterval(this.#flushTimer);
    clearInterval(this.#heartbeatTimer);
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }

  get clients(): number {
    return this.#clients.size;
  }

  stats(): { clients: number; dropped: number; sentBytes: number; pending: number } {
    return { clients: this.#clients.size, dropped: this.#droppedCount, sentBytes: this.#sentBytes, pending: this.#pending.size };
  }

  /** A change from the model. */
  offer(event: DashboardEvent): void {
    if (this.#clients.size === 0) return;
    if (event.type === 'sample') {
      if ([...this.#clients].some((c) => c.node === event.node)) this.#samples.set(event.node, frame(event));
      return;
    }
    const key = keyOf(event);
    if (key === null) return;
    this.#pending.delete(key);
    this.#pending.set(key, frame(event));
  }

  /** Takes over a response as an event stream; `node`: also send that node's samples. */
  add(res: ServerResponse, node?: string): void {
    const hello: DashboardEvent = { type: 'hello', atMs: Date.now(), heartbeatMs: this.#o.heartbeatMs ?? 15_000 };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold the events back.
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, node };
    this.#clients.add(client);
    res.on('close', () => this.#clients.delete(client));
    res.on('error', () => this.#clients.delete(client));
    // How long to wait before reconnecting, then the hello.
    this.#write(client, `retry: 2000\n\n${frame(hello)}`);
  }

  /** Sends what is pending, up to the per-second budget. */
  flush(): void {
    if (this.#clients.size === 0) {
      this.#pending.clear();
      this.#samples.clear();
      return;
    }
    const budget = ((this.#o.maxBytesPerSecond ?? 256 * 1024) * (this.#o.flushMs ?? 1000)) / 1000;
    let batch = '';
    for (const [key, f] of this.#pending) {
      if (batch.length > 0 && batch.length + f.length > budget) break;
      batch += f;
      this.#pending.delete(key);
    }
    const samples = this.#samples;
    for (const c of [...this.#clients]) {
      const own = c.node !== undefined ? samples.get(c.node) : undefined;
      const out = own ? batch + own : batch;
      if (out.length > 0) this.#write(c, out);
    }
    samples.clear();
  }

  #broadcast(text: string): void {
    for (const c of [...this.#clients]) this.#write(c, text);
  }

  #write(c: Client, text: string): void {
    if (c.res.destroyed || c.res.writableEnded) {
      this.#clients.delete(c);
      return;
    }
    c.res.write(text);
    const bytes = Buffer.byteLength(text);
    this.#sentBytes += bytes;
    this.#sent?.inc(bytes);
    if (c.res.writableLength > (this.#o.maxClientBufferBytes ?? 1024 * 1024)) {
      this.#clients.delete(c);
      this.#droppedCount += 1;
      this.#dropped?.inc();
      this.#o.log.warn({ unsentBytes: c.res.writableLength, node: c.node }, 'dropping a dashboard event stream that reads too slowly');
      c.res.destroy();
    }
  }
}
