// The HTTP API, built separately from listen() so tests drive it with inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { API_ERRORS, ApiError, errorBodySchema, isApiError } from './errors.ts';
import type { ReadModel } from './read-model.ts';
import { DeploymentDetail, DeploymentSummary, ItemsOf, jsonSchema, NodeSummary } from './schemas.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

export interface BuildOptions {
  readiness: () => Readiness;
  registry: Registry;
  read: ReadModel;
  logger?: FastifyServerOptions['logger'];
}

const readinessSchema = {
  type: 'object',
  properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
  required: ['ready', 'checks'],
} as const;

export function build(options: BuildOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });

  app.setErrorHandler((err, request, reply) => {
    if (isApiError(err)) return reply.status(err.statusCode).send({ code: err.code, message: err.message });
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.status(400).send({ code: 'BAD_REQUEST', message: e.message ?? API_ERRORS.BAD_REQUEST.message });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ code: 'INTERNAL', message: API_ERRORS.INTERNAL.message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.register(async (health) => {
    health.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
    health.get('/readyz', { schema: { response: { 200: readinessSchema, 503: readinessSchema } } }, async (_req, reply) => {
      const r = options.readiness();
      return reply.status(r.ready ? 200 : 503).send(r);
    });
  });

  app.register(async (metrics) => {
    metrics.get('/metrics', async (_req, reply) => {
      const body = await options.registry.metrics();
      return reply.type(options.registry.contentType).send(body);
    });
  });

  app.register(
    async (api) => {
      const errors = { 404: errorBodySchema, 500: errorBodySchema };
      api.get('/nodes', { schema: { response: { 200: jsonSchema(ItemsOf(NodeSummary)), ...errors } } }, async () => ({ items: await options.read.nodes() }));
      api.get('/nodes/:name', {
        schema: {
          params: { type: 'object', properties: { name: { type: 'string', maxLength: 253 } }, required: ['name'] },
          response: { 200: jsonSchema(NodeSummary), ...errors },
        },
      }, async (req) => {
        const { name } = req.params as { name: string };
        const node = (await options.read.nodes()).find((n) => n.name === name);
        if (!node) throw new ApiError('NODE_NOT_FOUND', `no EdgeNode named ${name}`);
        return node;
      });
      api.get('/deployments', { schema: { response: { 200: jsonSchema(ItemsOf(DeploymentSummary)), ...errors } } }, async () => ({
        items: options.read.deployments(),
      }));
      api.get('/deployments/:namespace/:name', {
        schema: {
          params: {
            type: 'object',
            properties: { namespace: { type: 'string', maxLength: 63 }, name: { type: 'string', maxLength: 253 } },
            required: ['namespace', 'name'],
          },
          response: { 200: jsonSchema(DeploymentDetail), ...errors },
        },
      }, async (req) => {
        const { namespace, name } = req.params as { namespace: string; name: string };
        const d = await options.read.deployment(namespace, name);
        if (!d) throw new ApiError('DEPLOYMENT_NOT_FOUND', `no EdgeModelDeployment ${namespace}/${name}`);
        return d;
      });
    },
    { prefix: '/api/v1' },
  );

  return app;
}
