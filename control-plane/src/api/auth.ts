// Authentication and authorization of the HTTP API, as one Fastify plugin. Each route declares
// in its config who may call it: `'public'`, or the permission it needs (built from the
// request). A route that declares nothing is refused when it is registered
// (requireAccessRules), so a new route cannot be open by omission.
//
// onRequest: the bearer token is reviewed (401 without one, or with one the API server does
// not accept). preHandler, after the parameters were validated: the route's permission is
// checked with a SubjectAccessReview (403 naming the permission). Unknown routes need a valid
// token too, then answer 404.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isReviewUnavailableError } from '../errors.ts';
import { describeAccess, type Access, type Decision } from '../kube/access-review.ts';
import type { Caller } from './auth-cache.ts';
import { ApiError } from './errors.ts';

/** Who may call a route: every permission listed, when it lists several. */
export type RouteAccess = 'public' | ((request: FastifyRequest) => Access | readonly Access[]);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route; see control-plane/src/api/auth.ts. */
    access?: RouteAccess;
    /**
     * Where else this route finds the bearer token when no Authorization header carries one
     * (the dashboard's cookie: a browser's EventSource cannot send headers).
     */
    credentials?: (request: FastifyRequest) => string | null;
  }
}

/** What the plugin asks of the reviews; CachedAccessReview in production, anything in tests. */
export interface AccessCheck {
  authenticate(token: string): Promise<Caller | null>;
  authorize(caller: Caller, access: Access): Promise<Decision>;
}

export interface AuthPluginOptions {
  check: AccessCheck;
  log?: Logger;
}

/** Longest token accepted; service-account and OIDC tokens are a few KiB at most. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The token of an `Authorization: Bearer <token>` header; null when absent or malformed. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer +([^\s]+)\s*$/i.exec(header);
  const token = m?.[1];
  return token && token.length <= MAX_TOKEN_LENGTH ? token : null;
}

function describeUser(caller: Caller): string {
  return `user "${caller.user.username}"`;
}

const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (app: FastifyInstance, options) => {
  const { check } = options;
  const log = options.log;
  const callers = new WeakMap<FastifyRequest, Caller>();

  const unavailable = (err: unknown, request: FastifyRequest): never => {
    if (isReviewUnavailableError(err)) {
      log?.error({ err, route: request.routeOptions.url, method: request.method }, 'cannot review an API request');
      throw new ApiError('AUTH_UNAVAILABLE', undefined, { cause: err });
    }
    throw err;
  };

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.access === 'public') return;
    const fromHeader = bearerToken(request.headers.authorization);
    const other = fromHeader ? null : request.routeOptions.config.credentials?.(request);
    const token = fromHeader ?? (other && other.length <= MAX_TOKEN_LENGTH ? other : null);
    if (!token) throw new ApiError('UNAUTHENTICATED', 'this request needs an Authorization: Bearer <token> header');
    const caller = await check.authenticate(token).catch((err: unknown) => unavailable(err, request));
    if (!caller) throw new ApiError('UNAUTHENTICATED', 'the bearer token was not accepted by the Kubernetes API (unknown, expired or for another audience)');
    callers.set(request, caller);
  });

  app.addHook('preHandler', async (request) => {
    const rule = request.routeOptions.config.access;
    // Public routes, and no route at all (a 404 for an authenticated caller).
    if (rule === 'public' || rule === undefined) return;
    const caller = callers.get(request);
    if (!caller) throw new ApiError('UNAUTHENTICATED');
    const wanted = rule(request);
    for (const access of Array.isArray(wanted) ? (wanted as readonly Access[]) : [wanted as Access]) {
      const decision = await check.authorize(caller, access).catch((err: unknown) => unavailable(err, request));
      if (!decision.allowed) {
        log?.debug({ user: caller.user.username, access: describeAccess(access), reason: decision.reason }, 'API request forbidden');
        throw new ApiError('FORBIDDEN', `${describeUser(caller)} cannot ${describeAccess(access)}`);
      }
    }
  });
};

/**
 * Refuses any route added to `app` from now on that does not declare its access rule; called
 * on the root instance before any route, so it sees every one.
 */
export function requireAccessRules(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access: 'public' or the permission it needs)`);
    }
  });
}

// Hooks apply to every route of the app, not only inside this plugin (what fastify-plugin does).
(authPlugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(authPlugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'edgeplane-auth';

export { authPlugin };
