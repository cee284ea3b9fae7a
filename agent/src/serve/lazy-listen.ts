// A port taken at start whose server is built on its first connection. An idle gateway then
// never loads an endpoint no client uses (Fastify with its validators, gRPC with its
// descriptors: about 14 MiB resident together), while a port in use still fails at start.
import { lookup } from 'node:dns/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

/** What takes over the accepted connections once built. */
export interface ConnectionSink {
  /** Takes one accepted connection, paused with nothing read from it yet. */
  accept(socket: Socket): void;
  /** Stops serving: requests in flight finish, then every connection it took is closed. */
  close(): Promise<void>;
}

export interface LazyListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Builds the sink (imports its modules); called on the first connection, again after a failure. */
  load: () => Promise<ConnectionSink>;
  /** Names the endpoint in logs. */
  endpoint: string;
  logger?: Logger;
}

export interface LazyListener {
  address(): AddressInfo;
  /** Every address listened on: `localhost` takes each address it resolves to, as Fastify and grpc-js do. */
  addresses(): AddressInfo[];
  /** Whether the sink has been built: false until the first connection. */
  readonly loaded: boolean;
  close(): Promise<void>;
}

/** Listens on `host:port`; rejects with the listen error (EADDRINUSE, EACCES, ...) as a server's listen does. */
export async function listenLazily(options: LazyListenOptions): Promise<LazyListener> {
  let sink: Promise<ConnectionSink> | undefined;
  let built: ConnectionSink | undefined;
  let closing = false;

  const load = (): Promise<ConnectionSink> => {
    const loading = options.load().then((s) => (built = s));
    loading.catch((err: unknown) => {
      options.logger?.error({ err, endpoint: options.endpoint }, 'the inference endpoint could not be built; closing the connections waiting for it');
      if (sink === loading) sink = undefined;
    });
    return loading;
  };

  const onConnection = (socket: Socket) => {
    if (closing) return void socket.destroy();
    sink ??= load();
    sink.then(
      (s) => {
        if (closing || socket.destroyed) return void socket.destroy();
        s.accept(socket);
        // Whichever way the sink reads (a stream listener, or its parser on the handle), reading starts here.
        if (socket.readableFlowing === false) socket.resume();
      },
      () => socket.destroy(),
    );
  };

  const listen = async (host: string, port: number): Promise<Server> => {
    // Paused: no byte is read before the sink owns the socket, so none is lost in the handover.
    const server = createServer({ pauseOnConnect: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => options.logger?.error({ err, endpoint: options.endpoint }, 'inference endpoint listener error'));
    return server;
  };

  const server = await listen(options.host, options.port);
  const servers = [server];
  if (options.host === 'localhost') {
    // The other addresses on the same port, each optional: the first one decides success.
    const main = server.address() as AddressInfo;
    const all = await lookup('localhost', { all: true }).catch(() => []);
    for (const a of all) {
      if (a.address === main.address) continue;
      const extra = await listen(a.address, main.port).catch(() => undefined);
      if (extra) servers.push(extra);
    }
  }

  return {
    address: () => server.address() as AddressInfo,
    addresses: () => servers.map((s) => s.address() as AddressInfo),
    get loaded() {
      return built !== undefined;
    },
    close: async () => {
      closing = true;
      const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      const s = sink ? await sink.catch(() => undefined) : undefined;
      await s?.close();
      await stopped;
    },
  };
}
