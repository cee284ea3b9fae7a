// The agent's local inference endpoints, REST and gRPC, each on its own port. Both ports are
// taken at start; each endpoint's code (Fastify, grpc-js and what they bring) is imported and
// built on its port's first connection, so a gateway whose clients use NATS, or one of the two,
// does not keep the other resident.
import type { Logger } from 'pino';
import { isLoopbackHost } from './http-auth.ts';
import { listenLazily, type LazyListener } from './lazy-listen.ts';
import type { ModelRegistry } from './registry.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface LocalEndpointsOptions {
  registry: ModelRegistry;
  log: Logger;
  httpAddr: ListenAddress;
  /** Set by the operator: a port it cannot take stops the start. Unset: defaultGrpcAddress, and a taken port leaves gRPC off. */
  grpcAddr?: ListenAddress;
  bearerToken?: string;
  maxRequestBytes?: number;
  maxTensorElements?: number;
  /** Prometheus text for GET /metrics on the REST port. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

export interface LocalEndpoints {
  http: LazyListener;
  grpc?: LazyListener;
  close(): Promise<void>;
}

/**
 * The gRPC address when none is set: beside the HTTP endpoint, on its port + 1 (8080 -> 8081,
 * as Triton pairs 8000 and 8001), or a free port when HTTP takes one (port 0), so agents
 * started side by side with their own HTTP ports do not contend for one fixed gRPC port.
 */
export function defaultGrpcAddress(http: ListenAddress): ListenAddress {
  return { host: http.host, port: http.port === 0 || http.port >= 65535 ? 0 : http.port + 1 };
}

/** Listens on both ports (rejecting as a server's listen does when HTTP's, or an operator-set gRPC port, cannot be taken). */
export async function startLocalEndpoints(options: LocalEndpointsOptions): Promise<LocalEndpoints> {
  const { registry, log, bearerToken } = options;
  const limits = {
    registry,
    logger: log,
    ...(options.maxRequestBytes !== undefined ? { bodyLimitBytes: options.maxRequestBytes, maxRequestBytes: options.maxRequestBytes } : {}),
    ...(options.maxTensorElements !== undefined ? { maxTensorElements: options.maxTensorElements } : {}),
    ...(bearerToken ? { bearerToken } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };

  const http = await listenLazily({
    host: options.httpAddr.host,
    port: options.httpAddr.port,
    endpoint: 'http',
    logger: log,
    load: async () => (await import('./http.ts')).httpConnectionSink(limits),
  });
  // The lines Fastify writes when it listens itself.
  for (const a of http.addresses()) log.info(`Server listening at http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
  log.info({ address: http.address(), bearerToken: bearerToken ? 'required' : 'none' }, 'local inference endpoint listening');
  if (!bearerToken && !isLoopbackHost(options.httpAddr.host)) {
    log.warn(
      { address: `${options.httpAddr.host}:${options.httpAddr.port}`, setting: 'EP_AGENT_HTTP_TOKEN_FILE (--http-token-file)' },
      'THE LOCAL INFERENCE ENDPOINT LISTENS BEYOND LOOPBACK WITHOUT A TOKEN: anyone on the network can run and read every model here; set --http-token-file',
    );
  }

  // gRPC on its own port, answering from the same registry and handlers. A port taken under
  // the default address is logged and gRPC left off (HTTP keeps serving); a port taken under
  // an address the operator set stops the start, as HTTP's does.
  const grpcAddr = options.grpcAddr ?? defaultGrpcAddress(options.httpAddr);
  let grpc: LazyListener | undefined;
  try {
    grpc = await listenLazily({
      host: grpcAddr.host,
      port: grpcAddr.port,
      endpoint: 'grpc',
      logger: log.child({ component: 'grpc' }),
      load: async () => (await import('./grpc.ts')).grpcConnectionSink(limits),
    });
  } catch (err) {
    if (options.grpcAddr) {
      await http.close();
      throw err;
    }
    log.error({ err, address: `${grpcAddr.host}:${grpcAddr.port}`, setting: 'EP_AGENT_GRPC_ADDR (--grpc-addr)' }, 'the gRPC inference endpoint could not listen on its default address; serving REST only');
  }
  if (grpc) {
    const port = grpc.address().port;
    log.info({ address: `${grpcAddr.host}:${port}`, bearerToken: bearerToken ? 'required' : 'none' }, 'local gRPC inference endpoint listening');
    if (!bearerToken && !isLoopbackHost(grpcAddr.host)) {
      log.warn({ address: `${grpcAddr.host}:${port}`, setting: 'EP_AGENT_HTTP_TOKEN_FILE (--http-token-file)' }, 'THE gRPC INFERENCE ENDPOINT LISTENS BEYOND LOOPBACK WITHOUT A TOKEN: set --http-token-file');
    }
  }
  return {
    http,
    ...(grpc ? { grpc } : {}),
    close: async () => {
      await Promise.all([http.close(), grpc?.close()]);
    },
  };
}
