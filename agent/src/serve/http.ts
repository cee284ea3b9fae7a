// Local HTTP endpoint for clients on the gateway itself: the Open Inference Protocol's REST
// form with the binary tensor extension. It depends on nothing but the registry, so it keeps answering while
// NATS or the uplink is down. `build()` returns the app; the caller decides when to listen.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { InvalidRequestError, PayloadTooLargeError, replyError } from '../workloads/errors.ts';
import { requireBearer } from './http-auth.ts';
import { infer, modelConfig, modelMetadata, modelReady, serverMetadata, serverReady } from './oip.ts';
import type { ConnectionSink } from './lazy-listen.ts';
import type { ModelRegistry } from './registry.ts';
import { encodeRestInfer, HEADER_LENGTH, parseRestInfer } from './rest-body.ts';

export interface HttpOptions {
  registry: ModelRegistry;
  /** Largest request body, bytes (default 8 MiB); a larger one is answered 413 with an error body. */
  bodyLimitBytes?: number;
  /** Most elements one input tensor may claim, checked before its data is walked (default 2^24). */
  maxTensorElements?: number;
  /** When set, every route but the health checks needs `Authorization: Bearer <this>`. */
  bearerToken?: string;
  logger?: Logger;
  /** Serves GET /metrics (Prometheus text) from this, behind the bearer token when one is set. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' } },
  required: ['error', 'code'],
} as const;

const tensorMeta = {
  type: 'object',
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
} as const;

const modelParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 317 }, version: { type: 'string', minLength: 1, maxLength: 253 } },
  required: ['name'],
} as const;

const readyBody = { type: 'object', properties: { ready: { type: 'boolean' } } } as const;
const modelReadyBody = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } } as const;
const metadataBody = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: tensorMeta },
    outputs: { type: 'array', items: tensorMeta },
  },
} as const;

interface ModelRoute {
  Params: { name: string; version?: string };
}

export function build(options: HttpOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? 8 * 1024 * 1024,
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
  });
  const { registry } = options;

  // One catalogue: every failure answers {error, code} with the status its code maps to.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let e = replyError(err);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const declared = Number(req.headers['content-length']);
      e = replyError(new PayloadTooLargeError(Number.isSafeInteger(declared) && declared > 0 ? declared : null, options.bodyLimitBytes ?? 8 * 1024 * 1024));
    } else if (err.validation || err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (err.statusCode === 400 && !('httpStatus' in err))) {
      e = replyError(new InvalidRequestError(err.message));
    }
    if (e.status >= 500) req.log.error({ err, code: e.code }, 'request failed');
    if (e.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', 'Bearer realm="edgeplane-agent"');
    // Exactly `application/json` (an object would get `; charset=utf-8`): KServe's client reads
    // the error only under that type.
    void reply.status(e.status).type('application/json').send(Buffer.from(JSON.stringify({ error: e.message, code: e.code })));
  });

  if (options.bearerToken) app.addHook('onRequest', requireBearer(options.bearerToken));

  const { metrics } = options;
  if (metrics) {
    app.get('/metrics', async (_req, reply) => {
      const { contentType, body } = await metrics();
      return reply.type(contentType).send(body);
    });
  }
  app.get('/v2/health/live', { schema: { response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } } }, async () => ({ live: true }));

  // Ready once nothing assigned is still loading; a failed placement is that model's not-ready, not the server's.
  app.get('/v2/health/ready', { schema: { response: { 200: readyBody, 503: readyBody } } }, async (_req, reply) => {
    const ready = serverReady(registry);
    return reply.status(ready ? 200 : 503).send({ ready });
  });

  app.get(
    '/v2',
    { schema: { response: { 200: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } } } } } },
    async () => serverMetadata(),
  );

  // Every model route with and without `/versions/{version}`.
  const both = (suffix: string): string[] => [`/v2/models/:name${suffix}`, `/v2/models/:name/versions/:version${suffix}`];

  for (const url of both('')) {
    app.get<ModelRoute>(url, { schema: { params: modelParams, response: { 200: metadataBody, '4xx': errorBody, '5xx': errorBody } } }, async (req) =>
      modelMetadata(registry, req.params.name, req.params.version),
    );
  }

  for (const url of both('/ready')) {
    app.get<ModelRoute>(url, { schema: { params: modelParams, response: { 200: modelReadyBody, 503: modelReadyBody, '4xx': errorBody } } }, async (req, reply) => {
      const r = modelReady(registry, req.params.name, req.params.version);
      return reply.status(r.ready ? 200 : 503).send(r);
    });
  }

  // Triton's model configuration extension: batch size and per-sample dims, which its tools read.
  for (const url of both('/config')) {
    app.get<ModelRoute>(url, { schema: { params: modelParams, response: { '4xx': errorBody, '5xx': errorBody } } }, async (req) => modelConfig(registry, req.params.name, req.params.version));
  }

  // Inference takes its body as bytes whatever the content type says: the protocol demands
  // none, and the binary extension's body is JSON followed by raw tensors.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    for (const url of both('/infer')) {
      scope.post<ModelRoute & { Body: Buffer | undefined }>(url, { schema: { params: modelParams } }, async (req, reply) => {
        const header = req.headers[HEADER_LENGTH];
        const parsed = parseRestInfer(req.body ?? new Uint8Array(0), typeof header === 'string' ? header : undefined, options.maxTensorElements);
        const deadline = req.headers['ep-deadline-ms'];
        const timeoutMs = typeof deadline === 'string' && Number(deadline) > 0 ? Number(deadline) : undefined;
        const result = await infer(registry, req.params.name, req.params.version, { ...parsed, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
        // An escalating workload's marks go in the body's parameters and, as over NATS, in headers.
        for (const [k, v] of Object.entries(result.parameters ?? {})) void reply.header(k, v);
        const out = encodeRestInfer(result, parsed);
        if (out.headerLength !== undefined) return reply.header(HEADER_LENGTH, out.headerLength).type('application/octet-stream').send(out.body);
        return reply.type('application/json').send(out.body);
      });
    }
  });

  return app;
}

/** Builds the app and listens on `host:port` (0 picks a free port); returns the port and a closer. */
export async function listenHttp(options: HttpOptions & { host: string; port: number }): Promise<{ port: number; close: () => Promise<void> }> {
  const app = build(options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { port, close: () => app.close() };
}

/**
 * The app, ready, for connections accepted elsewhere (a port listened on before this module
 * loaded); its HTTP server never listens itself. Closing lets requests in flight finish (new
 * ones are answered 503 meanwhile), closes each connection once idle, and cuts what is left after 5 s.
 */
export async function httpConnectionSink(options: HttpOptions): Promise<ConnectionSink> {
  const app = build(options);
  await app.ready();
  // Requests in flight per connection: Node tracks idle connections only for a server that listens.
  const inFlight = new Map<Socket, number>();
  let closing = false;
  const settle = (socket: Socket) => {
    if (closing && !inFlight.get(socket)) socket.end();
  };
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (inFlight.has(socket)) inFlight.set(socket, inFlight.get(socket)! - 1);
      settle(socket);
    });
  });
  return {
    accept: (socket) => {
      inFlight.set(socket, 0);
      socket.once('close', () => inFlight.delete(socket));
      app.server.emit('connection', socket);
    },
    close: async () => {
      closing = true;
      await app.close();
      for (const socket of inFlight.keys()) settle(socket);
      if (inFlight.size === 0) return;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          for (const socket of inFlight.keys()) socket.destroy();
        }, 5_000);
        const check = setInterval(() => {
          if (inFlight.size > 0) return;
          clearInterval(check);
          clearTimeout(force);
          resolve();
        }, 20);
      });
    },
  };
}
