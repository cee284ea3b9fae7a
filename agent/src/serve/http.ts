// Local HTTP endpoint for clients on the gateway itself, following KServe's Open Inference
// Protocol v2 (REST). It depends on nothing but the registry, so it keeps answering while
// NATS or the uplink is down. `build()` returns the app; the caller decides when to listen.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { InvalidRequestError, ModelNotFoundError, ModelNotReadyError, PayloadTooLargeError, replyError } from '../workloads/errors.ts';
import { fromJson, metadataOf, toJson, type JsonTensor } from './kserve.ts';
import { requireBearer } from './http-auth.ts';
import type { ModelRegistry, ServedModel } from './registry.ts';

export interface HttpOptions {
  registry: ModelRegistry;
  /** Largest request body, bytes (default 8 MiB); a larger one is answered 413 with an error body. */
  bodyLimitBytes?: number;
  /** Most elements one input tensor may claim, checked before its data is walked (default 2^24). */
  maxTensorElements?: number;
  /** When set, every route but the health checks needs `Authorization: Bearer <this>`. */
  bearerToken?: string;
  logger?: Logger;
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
  properties: { name: { type: 'string', minLength: 1, maxLength: 317 } },
  required: ['name'],
} as const;

const inferBody = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 16,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 256 },
          shape: { type: 'array', maxItems: 8, items: { type: 'integer', minimum: 0 } },
          datatype: { type: 'string' },
          data: { type: 'array' },
          parameters: { type: 'object' },
        },
        required: ['name', 'shape', 'datatype', 'data'],
      },
    },
    outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
    parameters: { type: 'object' },
  },
  required: ['inputs'],
} as const;

interface InferBody {
  id?: string;
  inputs: JsonTensor[];
  outputs?: { name: string }[];
}

function lookup(registry: ModelRegistry, name: string): ServedModel {
  const m = registry.model(name);
  if (!m) throw new ModelNotFoundError(name);
  return m;
}

function readyModel(registry: ModelRegistry, name: string): ServedModel {
  const m = lookup(registry, name);
  if (!m.ready) throw new ModelNotReadyError(name, m.phase);
  return m;
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
    if (e.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', 'Bearer realm="edgeplane-agent"');
    void reply.status(e.status).send({ error: e.message, code: e.code });
  });

  if (options.bearerToken) app.addHook('onRequest', requireBearer(options.bearerToken));

  app.get('/v2/health/live', { schema: { response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } } }, async () => ({ live: true }));

  // Ready when every assigned model is ready (and, with none assigned, at once).
  app.get(
    '/v2/health/ready',
    { schema: { response: { 200: { type: 'object', properties: { ready: { type: 'boolean' } } }, 503: { type: 'object', properties: { ready: { type: 'boolean' } } } } } },
    async (_req, reply) => {
      const ready = registry.models().every((m) => m.ready);
      return reply.status(ready ? 200 : 503).send({ ready });
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v2/models/:name',
    {
      schema: {
        params: modelParams,
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              versions: { type: 'array', items: { type: 'string' } },
              platform: { type: 'string' },
              inputs: { type: 'array', items: tensorMeta },
              outputs: { type: 'array', items: tensorMeta },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (req) => {
      const m = readyModel(registry, req.params.name);
      return {
        name: m.assignment.deployment,
        versions: [m.assignment.variant.name],
        platform: 'onnxruntime_onnx',
        inputs: metadataOf(m.inputs),
        outputs: metadataOf(m.outputs),
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v2/models/:name/ready',
    {
      schema: {
        params: modelParams,
        response: {
          200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
          503: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
          '4xx': errorBody,
        },
      },
    },
    async (req, reply) => {
      const m = lookup(registry, req.params.name);
      return reply.status(m.ready ? 200 : 503).send({ name: m.assignment.deployment, ready: m.ready });
    },
  );

  app.post<{ Params: { name: string }; Body: InferBody }>(
    '/v2/models/:name/infer',
    {
      schema: {
        params: modelParams,
        body: inferBody,
        response: {
          200: {
            type: 'object',
            properties: {
              model_name: { type: 'string' },
              model_version: { type: 'string' },
              id: { type: 'string' },
              outputs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    datatype: { type: 'string' },
                    shape: { type: 'array', items: { type: 'integer' } },
                    data: { type: 'array', items: { type: ['number', 'boolean'] } },
                  },
                },
              },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (req) => {
      const m = readyModel(registry, req.params.name);
      const inputs = req.body.inputs.map((t) => fromJson(t, options.maxTensorElements));
      const header = req.headers['ep-deadline-ms'];
      const timeoutMs = typeof header === 'string' && Number(header) > 0 ? Number(header) : undefined;
      const outputs = await m.infer(inputs, timeoutMs !== undefined ? { timeoutMs } : {});
      const wanted = req.body.outputs?.map((o) => o.name);
      const chosen = wanted ? outputs.filter((o) => wanted.includes(o.name)) : outputs;
      return {
        model_name: m.assignment.deployment,
        model_version: m.assignment.variant.name,
        ...(req.body.id !== undefined ? { id: req.body.id } : {}),
        outputs: chosen.map(toJson),
      };
    },
  );

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
