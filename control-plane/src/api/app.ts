// The HTTP API, built separately from listen() so tests drive it with inject().
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { DASHBOARD_PATH, EMD_PLURAL, EN_PLURAL } from '@edgeplane/api';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MetricsAuth } from '../config.ts';
import { edgeplaneAccess } from '../kube/access-review.ts';
import { authPlugin, requireAccessRules, type AccessCheck, type RouteAccess } from './auth.ts';
import { API_ERRORS, ApiError, authErrorSchemas, errorBodySchema, isApiError, WWW_AUTHENTICATE } from './errors.ts';
import { dashboardPlugin, type DashboardPluginOptions } from '../dashboard/plugin.ts';
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
  /**
   * Who may call the API: bearer tokens reviewed by the Kubernetes API (`rbac`), or nobody
   * checked (`none`, only when the operator turned authentication off explicitly).
   */
  auth: ApiAuth;
  logger?: FastifyServerOptions['logger'];
  /** Where failed requests (500s) are logged, each with its request id. */
  log?: Logger;
  /** The dashboard at /dashboard, behind the same authentication; absent: not served. */
  dashboard?: Omit<DashboardPluginOptions, 'authenticate'>;
}

export type ApiAuth = { mode: 'rbac'; check: AccessCheck; metrics: MetricsAuth; log?: Logger } | { mode: 'none' };

const resource = edgeplaneAccess;
const param = (req: { params: unknown }, key: string): string => (req.params as Record<string, string>)[key] ?? '';

const readinessSchema = {
  type: 'object',
  properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
  required: ['ready', 'checks'],
} as const;

export function build(options: BuildOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // Every response names its request id, so a user can quote the one a 500 carried and the
    // log line with its stack can be found; only failures are logged, not each request.
    genReqId: () => randomUUID(),
  });
  const failures = options.log?.child({ component: 'api' });
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  requireAccessRules(app);

  app.setErrorHandler((err, request, reply) => {
    if (isApiError(err)) {
      if (err.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', WWW_AUTHENTICATE);
      return reply.status(err.statusCode).send({ code: err.code, message: err.message });
    }
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.status(400).send({ code: 'BAD_REQUEST', message: e.message ?? API_ERRORS.BAD_REQUEST.message });
    }
    (failures ?? request.log).error({ err, reqId: request.id, method: request.method, url: request.url.split('?')[0] }, 'request failed');
    return reply.status(500).send({ code: 'INTERNAL', message: API_ERRORS.INTERNAL.message, requestId: request.id });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  const auth = options.auth;
  if (auth.mode === 'rbac') app.register(authPlugin, { check: auth.check, ...(auth.log ? { log: auth.log } : {}) });

  app.register(async (health) => {
    const config = { access: 'public' as const };
    health.get('/healthz', { config, schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
    health.get('/readyz', { config, schema: { response: { 200: readinessSchema, 503: readinessSchema } } }, async (_req, reply) => {
      const r = options.readiness();
      return reply.status(r.ready ? 200 : 503).send(r);
    });
  });

  app.register(async (metrics) => {
    // As kube-rbac-proxy does: `get` on the non-resource URL, which Prometheus's ClusterRole grants.
    const access: RouteAccess = auth.mode === 'rbac' && auth.metrics === 'none' ? 'public' : () => ({ kind: 'path', verb: 'get', path: '/metrics' });
    metrics.get('/metrics', { config: { access }, schema: { response: { ...authErrorSchemas } } }, async (_req, reply) => {
      const body = await options.registry.metrics();
      return reply.type(options.registry.contentType).send(body);
    });
  });

  app.register(
    async (api) => {
      const errors = { 404: errorBodySchema, 500: errorBodySchema, ...authErrorSchemas };
      const namespaceParam = { type: 'string', maxLength: 63 } as const;
      api.get('/nodes', {
        config: { access: () => resource('list', EN_PLURAL) },
        schema: { response: { 200: jsonSchema(ItemsOf(NodeSummary)), ...errors } },
      }, async () => ({ items: await options.read.nodes() }));
      api.get('/nodes/:name', {
        config: { access: (req) => resource('get', EN_PLURAL, { name: param(req, 'name') }) },
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
      // Every namespace at once needs the right to list in all of them (as `kubectl get emd -A`);
      // a caller with rights in some namespaces lists each through /deployments/:namespace.
      api.get('/deployments', {
        config: { access: () => resource('list', EMD_PLURAL, { allNamespaces: true }) },
        schema: { response: { 200: jsonSchema(ItemsOf(DeploymentSummary)), ...errors } },
      }, async () => ({
        items: options.read.deployments(),
      }));
      api.get('/deployments/:namespace', {
        config: { access: (req) => resource('list', EMD_PLURAL, { namespace: param(req, 'namespace') }) },
        schema: {
          params: { type: 'object', properties: { namespace: namespaceParam }, required: ['namespace'] },
          response: { 200: jsonSchema(ItemsOf(DeploymentSummary)), ...errors },
        },
      }, async (req) => ({
        items: options.read.deployments().filter((d) => d.namespace === param(req, 'namespace')),
      }));
      api.get('/deployments/:namespace/:name', {
        config: { access: (req) => resource('get', EMD_PLURAL, { namespace: param(req, 'namespace'), name: param(req, 'name') }) },
        schema: {
          params: {
            type: 'object',
            properties: { namespace: namespaceParam, name: { type: 'string', maxLength: 253 } },
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

  if (options.dashboard) {
    const check = auth.mode === 'rbac' ? auth.check : null;
    app.register(dashboardPlugin, {
      ...options.dashboard,
      ...(check ? { authenticate: async (token: string) => (await check.authenticate(token)) !== null } : {}),
      prefix: DASHBOARD_PATH,
    });
  }

  return app;
}
