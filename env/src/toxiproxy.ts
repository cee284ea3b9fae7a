// Toxiproxy for the fault tests: a TCP proxy in front of a server whose connections can be
// slowed, reset or partitioned on demand through its HTTP API, so a fault is a real TCP fault
// (stalled sockets, RSTs) rather than a mocked client error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess } from './process.ts';

/** Which direction of a connection a toxic acts on: toward the server, or back to the client. */
export type ToxicStream = 'upstream' | 'downstream';

/** The toxics the fault tests use, with their attributes (durations in ms, as Toxiproxy has them). */
export type ToxicSpec =
  /** Delays every chunk by latency ± jitter. */
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  /** Resets the connection (TCP RST) after `timeout` ms; 0 resets as soon as data arrives. */
  | { type: 'reset_peer'; attributes: { timeout: number } }
  /** Drops all data; closes the connection after `timeout` ms, or holds it open for ever when 0. */
  | { type: 'timeout'; attributes: { timeout: number } }
  /** Limits the rate to `rate` KB/s. */
  | { type: 'bandwidth'; attributes: { rate: number } };

export type ToxicType = ToxicSpec['type'];

export type Toxic = ToxicSpec & { name: string; stream: ToxicStream; toxicity: number };

export interface ToxicOptions {
  stream?: ToxicStream;
  /** Name of the toxic; `<type>_<stream>` by default, as Toxiproxy names them. */
  name?: string;
  /** Share of connections affected, 0..1 (default 1). */
  toxicity?: number;
}

/** A Toxiproxy API call failed. */
export class ToxiproxyError extends Error {
  override readonly name = 'ToxiproxyError';
  readonly code = 'TOXIPROXY_API';
  readonly status: number;
  /** The API path that failed, e.g. `POST /proxies/redis/toxics`. */
  readonly request: string;

  constructor(request: string, status: number, message: string) {
    super(`toxiproxy ${request}: ${status} ${message}`);
    this.request = request;
    this.status = status;
  }
}

export function isToxiproxyError(err: unknown): err is ToxiproxyError {
  return err instanceof ToxiproxyError;
}

export interface ToxiProxy {
  name: string;
  /** The loopback port clients connect to instead of the upstream's. */
  port: number;
  /** `host:port` of the server behind the proxy. */
  upstream: string;
  /** Adds a toxic; it acts on open connections as well as new ones. */
  addToxic(spec: ToxicSpec, options?: ToxicOptions): Promise<Toxic>;
  removeToxic(name: string): Promise<void>;
  toxics(): Promise<Toxic[]>;
  /** Delays data by `ms` (± `jitterMs`) in one direction (downstream by default). */
  latency(ms: number, options?: ToxicOptions & { jitterMs?: number }): Promise<Toxic>;
  /**
   * Resets connections opened from now on (TCP RST) `afterMs` after data arrives; connections
   * already open are closed.
   */
  resetPeer(afterMs?: number, options?: ToxicOptions): Promise<Toxic>;
  /**
   * A partition: data in both directions is dropped and connections stay open, as when a
   * link goes dark without a FIN or RST, so each side finds out only by its own timeouts.
   * New connections are accepted and stall the same way. Undone by heal().
   */
  partition(): Promise<void>;
  /** Removes every toxic and enables the proxy again. */
  heal(): Promise<void>;
  /** Closes every connection and refuses new ones (connection refused), until enable(). */
  disable(): Promise<void>;
  enable(): Promise<void>;
}

export interface ToxiproxyServer {
  apiUrl: string;
  /**
   * A proxy named `name` on a free loopback port in front of `upstream` (`host:port`, or a
   * port on 127.0.0.1).
   */
  proxy(name: string, upstream: string | number): Promise<ToxiProxy>;
  /** Enables every proxy and removes every toxic. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

interface ProxyBody {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

function isProxyBody(v: unknown): v is ProxyBody {
  const o = v as Partial<ProxyBody> | null;
  return typeof o === 'object' && o !== null && typeof o.name === 'string' && typeof o.listen === 'string' && typeof o.upstream === 'string';
}

function isToxic(v: unknown): v is Toxic {
  const o = v as Partial<Toxic> | null;
  return typeof o === 'object' && o !== null && typeof o.name === 'string' && typeof o.type === 'string' && typeof o.stream === 'string';
}

function portOf(listen: string): number {
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new ToxiproxyError('POST /proxies', 200, `unexpected listen address ${listen}`);
  return port;
}

export interface ToxiproxyClient {
  /** A proxy on a free loopback port (Toxiproxy picks it) in front of `upstream` (`host:port`). */
  createProxy(name: string, upstream: string): Promise<ToxiProxy>;
  reset(): Promise<void>;
}

/** A typed client for Toxiproxy's HTTP API. */
export function toxiproxyClient(apiUrl: string): ToxiproxyClient {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const request = `${method} ${path}`;
    let res: Response;
    try {
      res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new ToxiproxyError(request, 0, (err as Error).message);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new ToxiproxyError(request, res.status, message);
    }
    return text ? (JSON.parse(text) as unknown) : null;
  };

  const proxyHandle = (body: ProxyBody): ToxiProxy => {
    const base = `/proxies/${encodeURIComponent(body.name)}`;
    const handle: ToxiProxy = {
      name: body.name,
      port: portOf(body.listen),
      upstream: body.upstream,
      async addToxic(spec, options = {}) {
        const stream = options.stream ?? 'downstream';
        const toxic = await call('POST', `${base}/toxics`, {
          name: options.name ?? `${spec.type}_${stream}`,
          type: spec.type,
          stream,
          toxicity: options.toxicity ?? 1,
          attributes: spec.attributes,
        });
        if (!isToxic(toxic)) throw new ToxiproxyError(`POST ${base}/toxics`, 200, 'answer is not a toxic');
        return toxic;
      },
      async removeToxic(name) {
        await call('DELETE', `${base}/toxics/${encodeURIComponent(name)}`);
      },
      async toxics() {
        const list = await call('GET', `${base}/toxics`);
        return Array.isArray(list) ? list.filter(isToxic) : [];
      },
      latency(ms, options = {}) {
        return handle.addToxic({ type: 'latency', attributes: { latency: ms, jitter: options.jitterMs ?? 0 } }, options);
      },
      resetPeer(afterMs = 0, options = {}) {
        return handle.addToxic({ type: 'reset_peer', attributes: { timeout: afterMs } }, options);
      },
      async partition() {
        for (const stream of ['upstream', 'downstream'] as const) {
          await handle.addToxic({ type: 'timeout', attributes: { timeout: 0 } }, { stream, name: `partition_${stream}` });
        }
      },
      async heal() {
        for (const toxic of await handle.toxics()) await handle.removeToxic(toxic.name);
        await handle.enable();
      },
      async disable() {
        await call('POST', base, { enabled: false });
      },
      async enable() {
        await call('POST', base, { enabled: true });
      },
    };
    return handle;
  };

  return {
    async createProxy(name: string, upstream: string): Promise<ToxiProxy> {
      // Port 0: Toxiproxy binds a free port and answers with it, so no port race.
      const body = await call('POST', '/proxies', { name, listen: '127.0.0.1:0', upstream, enabled: true });
      if (!isProxyBody(body)) throw new ToxiproxyError('POST /proxies', 200, 'answer is not a proxy');
      return proxyHandle(body);
    },
    async reset(): Promise<void> {
      await call('POST', '/reset');
    },
  };
}

/** A toxiproxy-server on a free loopback port, with no proxies yet. */
export async function startToxiproxy(): Promise<ToxiproxyServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-toxiproxy-'));
  const port = await freePort();
  const proc = startProcess('toxiproxy-server', goBinary('toxiproxy-server'), ['-host', '127.0.0.1', '-port', String(port)], dir);
  try {
    await waitForPort(port, 10_000, () => proc.alive());
  } catch (err) {
    await proc.stop();
    throw new Error(`toxiproxy-server did not start: ${(err as Error).message}\n${proc.tail()}`);
  }
  const apiUrl = `http://127.0.0.1:${port}`;
  const client = toxiproxyClient(apiUrl);
  return {
    apiUrl,
    proxy(name, upstream) {
      return client.createProxy(name, typeof upstream === 'number' ? `127.0.0.1:${upstream}` : upstream);
    },
    reset: client.reset,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
