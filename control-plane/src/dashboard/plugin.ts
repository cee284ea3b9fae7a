// The dashboard's routes (the contract and its route list: api/src/dashboard.ts), as one
// encapsulated Fastify plugin registered at /dashboard. The page and its assets are public (they
// hold no data); the JSON and event routes need the same token and permissions as /api/v1, taken
// from the `ep_dashboard` cookie when no Authorization header is sent.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import {
  DASHBOARD_COOKIE,
  DASHBOARD_PATH,
  DeploymentView,
  EMD_KIND,
  EMD_PLURAL,
  EN_KIND,
  EN_PLURAL,
  FleetSnapshot,
  NodeDetail,
  NodeHistory,
  type EdgeModelDeployment,
  type EdgeNode,
} from '@edgeplane/api';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import { edgeplaneAccess } from '../kube/access-review.ts';
import type { PlacementStore } from '../reconcile/placement-store.ts';
import { ApiError, authErrorSchemas, errorBodySchema, isApiError } from '../api/errors.ts';
import { jsonSchema } from '../api/schemas.ts';
import { chooseEncoding, EncodedBody } from './encoded-body.ts';
import type { EventReader } from './events.ts';
import type { HistoryStore } from './history-store.ts';
import type { Cache, FleetModel } from './model.ts';
import type { SseHub } from './sse.ts';
import { dashEscalation, dashPlacement, nodeDetail, unplacedExplanation, fleetDeployment } from './views.ts';

/**
 * dashboard/dist/ of this source tree. The single executable (a CommonJS bundle, where
 * import.meta.url is empty) names its own with EP_DASHBOARD_DIR, so this is only a fallback.
 */
export function defaultDashboardDir(): string {
  const here = typeof import.meta.url === 'string' && import.meta.url.startsWith('file:') ? dirname(fileURLToPath(import.meta.url)) : process.cwd();
  return resolve(here, '../../../dashboard/dist');
}
export const DASHBOARD_BUILD_COMMAND = 'npm run build -w @edgeplane/dashboard';
/** Longest token put in the cookie: browsers keep at most 4 KiB per cookie. */
const MAX_COOKIE_TOKEN = 4000;

export interface DashboardPluginOptions {
  model: FleetModel;
  hub: SseHub;
  history: HistoryStore;
  telemetry: Pick<TelemetryStore, 'read' | 'readMany'>;
  placements: Pick<PlacementStore, 'load'>;
  nodes: Cache<EdgeNode>;
  deployments: Cache<EdgeModelDeployment>;
  events: EventReader;
  /** The built page (index.html and its assets). */
  distDir: string;
  gracePeriodMs: number;
  /** Checks a bearer token with the API server; absent when authentication is off. */
  authenticate?: (token: string) => Promise<boolean>;
}

const resource = edgeplaneAccess;

/** The cookie's token; null when absent. */
export function cookieToken(header: string | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== DASHBOARD_COOKIE) continue;
    try {
      const v = decodeURIComponent(part.slice(eq + 1).trim());
      return v.length > 0 ? v : null;
    } catch {
      return null;
    }
  }
  return null;
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${DASHBOARD_COOKIE}=${encodeURIComponent(token)}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

const fromCookie = (request: FastifyRequest) => cookieToken(request.headers.cookie);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const errors = { 400: errorBodySchema, 404: errorBodySchema, 500: errorBodySchema, ...authErrorSchemas };
const nameParam = { type: 'string', minLength: 1, maxLength: 253 } as const;

export const dashboardPlugin: FastifyPluginAsync<DashboardPluginOptions> = async (app, o) => {
  const distDir = o.distDir;
  // Open event streams would hold the server's close for ever.
  app.addHook('preClose', async () => o.hub.stop());
  await app.register(fastifyStatic, { root: distDir, serve: false, suppressWarning: true });

  const built = () => existsSync(join(distDir, 'index.html'));
  const notBuilt = (reply: FastifyReply) =>
    reply
      .status(503)
      .type('text/html; charset=utf-8')
      .send(
        page(
          'Dashboard not built',
          `<p>The control plane serves the dashboard from <code>${escapeHtml(distDir)}</code>, which has no <code>index.html</code>.</p>` +
            `<p>Build it with <code>${DASHBOARD_BUILD_COMMAND}</code> (or name another directory with <code>EP_DASHBOARD_DIR</code>), then reload.</p>`,
        ),
      );
  const index = (reply: FastifyReply) => (built() ? reply.header('cache-control', 'no-cache').sendFile('index.html') : notBuilt(reply));

  // Pages answer failures as pages; the JSON routes keep the API's { code, message }.
  app.setErrorHandler((err, request, reply) => {
    if (request.routeOptions.config.access === 'public' && isApiError(err)) {
      return reply.status(err.statusCode).type('text/html; charset=utf-8').send(page('Dashboard', `<p>${escapeHtml(err.message)}</p>`));
    }
    throw err;
  });

  // /dashboard/?token=...: the token becomes the cookie and leaves the address bar.
  const indexRoute = async (request: FastifyRequest, reply: FastifyReply) => {
    const { token } = request.query as { token?: string };
    if (token === undefined) return index(reply);
    if (token.length === 0 || token.length > MAX_COOKIE_TOKEN) throw new ApiError('BAD_REQUEST', `the token must be 1 to ${MAX_COOKIE_TOKEN} characters`);
    const accepted = o.authenticate
      ? await o.authenticate(token).catch((cause: unknown) => {
          request.log.error({ err: cause }, 'cannot review a dashboard token');
          throw new ApiError('AUTH_UNAVAILABLE', undefined, { cause });
        })
      : true;
    if (!accepted) {
      throw new ApiError('UNAUTHENTICATED', 'the token in the address was not accepted by the Kubernetes API (unknown, expired or for another audience); ask for a new address');
    }
    const secure = request.protocol === 'https';
    return reply.header('set-cookie', sessionCookie(token, secure)).header('cache-control', 'no-store').redirect(`${DASHBOARD_PATH}/`, 303);
  };
  const indexSchema = { querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 16384 } } } };
  app.get('/', { config: { access: 'public' }, schema: indexSchema }, indexRoute);

  app.get('/*', { config: { access: 'public' }, schema: { params: { type: 'object', properties: { '*': { type: 'string', maxLength: 1024 } } } } }, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    if (path.startsWith('api/') || path === 'api') {
      return reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    }
    if (!built()) return notBuilt(reply);
    if (path === '' || path === 'index.html') return index(reply);
    // Hashed names never change; anything else is revalidated.
    if (existsSync(join(distDir, path))) return reply.header('cache-control', /-[A-Za-z0-9]{8,}\./.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache').sendFile(path);
    // A path of the page's own (a deep link) gets the page; a missing file a plain 404.
    return /\.[a-z0-9]+$/i.test(path) ? reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no file ${path}` }) : index(reply);
  });

  app.register(
    async (api) => {
      api.addHook('onRequest', async () => o.model.touch());
      // The bodies are built field by field from the contract's types (views.ts), so nothing
      // unlisted can leak; the schema's serialiser would pick each nullable field's branch by
      // validating it, which costs about a second on a 5,000-node snapshot.
      api.setSerializerCompiler(() => (data) => JSON.stringify(data));
      // About 2 MB of JSON at 5,000 nodes, mostly repeated keys: brotli takes it to a tenth in
      // about 15 ms, once per change of the fleet, which a page on a slow link gains back many times.
      const fleetBody = new EncodedBody();
      api.get('/fleet', {
        config: { credentials: fromCookie, access: () => [resource('list', EN_PLURAL), resource('list', EMD_PLURAL, { allNamespaces: true })] },
        schema: { response: { 200: jsonSchema(FleetSnapshot), ...errors } },
      }, async (req, reply) => {
        const snapshot = await o.model.snapshotBody();
        const { encoding, body } = await fleetBody.get(snapshot.version, () => snapshot.json, chooseEncoding(req.headers['accept-encoding']));
        void reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding').header('cache-control', 'no-store');
        if (encoding !== 'identity') void reply.header('content-encoding', encoding);
        return body;
      });

      api.get('/nodes/:name', {
        config: { credentials: fromCookie, access: (req) => resource('get', EN_PLURAL, { name: (req.params as { name: string }).name }) },
        schema: { params: { type: 'object', properties: { name: nameParam }, required: ['name'] }, response: { 200: jsonSchema(NodeDetail), ...errors } },
      }, async (req) => {
        const { name } = req.params as { name: string };
        const node = o.nodes.get(name);
        if (!node) throw new ApiError('NODE_NOT_FOUND', `no EdgeNode named ${name}`);
        const [t, events] = await Promise.all([o.telemetry.read(name), o.events.about({ kind: EN_KIND, namespace: 'default', name })]);
        const rev = o.model.node(name)?.rev ?? 0;
        return { ...nodeDetail(node, t ?? undefined, o.model.precisionOf(), Date.now(), o.gracePeriodMs, rev), events };
      });

      api.get('/nodes/:name/history', {
        config: { credentials: fromCookie, access: (req) => resource('get', EN_PLURAL, { name: (req.params as { name: string }).name }) },
        schema: { params: { type: 'object', properties: { name: nameParam }, required: ['name'] }, response: { 200: jsonSchema(NodeHistory), ...errors } },
      }, async (req) => {
        const { name } = req.params as { name: string };
        if (!o.nodes.get(name)) throw new ApiError('NODE_NOT_FOUND', `no EdgeNode named ${name}`);
        return o.history.read(name);
      });

      api.get('/deployments/:namespace/:name', {
        config: {
          credentials: fromCookie,
          access: (req) => {
            const p = req.params as { namespace: string; name: string };
            return resource('get', EMD_PLURAL, { namespace: p.namespace, name: p.name });
          },
        },
        schema: {
          params: { type: 'object', properties: { namespace: { type: 'string', minLength: 1, maxLength: 63 }, name: nameParam }, required: ['namespace', 'name'] },
          response: { 200: jsonSchema(DeploymentView), ...errors },
        },
      }, async (req) => {
        const { namespace, name } = req.params as { namespace: string; name: string };
        const d = o.deployments.get(`${namespace}/${name}`);
        if (!d) throw new ApiError('DEPLOYMENT_NOT_FOUND', `no EdgeModelDeployment ${namespace}/${name}`);
        const [placements, events] = await Promise.all([o.placements.load(`${namespace}/${name}`), o.events.about({ kind: EMD_KIND, namespace, name })]);
        const telemetry = await o.telemetry.readMany([...new Set(placements.map((p) => p.node))]);
        const slo = d.spec.slo.latencyMs;
        return {
          ...fleetDeployment(d, 0),
          sloP99Ms: slo,
          escalation: dashEscalation(d),
          placements: placements
            .map((p) => dashPlacement(p, telemetry.get(p.node), slo))
            .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.accelerator < b.accelerator ? -1 : 1)),
          unplaced: { count: d.status?.unplacedReplicas ?? 0, explanation: unplacedExplanation(d) },
          events,
        };
      });

      api.get('/events', {
        config: { credentials: fromCookie, access: () => [resource('list', EN_PLURAL), resource('list', EMD_PLURAL, { allNamespaces: true })] },
        schema: { querystring: { type: 'object', properties: { node: nameParam } }, response: { ...errors } },
      }, async (req, reply) => {
        const { node } = req.query as { node?: string };
        reply.hijack();
        o.hub.add(reply.raw, node);
      });
    },
    { prefix: '/api' },
  );
};
