// Who is calling, and may they: a bearer token checked with a TokenReview, a request checked
// with a SubjectAccessReview, both answered by the Kubernetes API (as kube-rbac-proxy and
// metrics-server do). Every call has a timeout; a call that cannot be answered throws
// ReviewUnavailableError and decides nothing.
import {
  ApiException,
  AuthenticationV1Api,
  AuthorizationV1Api,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  type RequestContext,
  type V1SubjectAccessReviewSpec,
} from '@kubernetes/client-node';
import { GROUP } from '@edgeplane/api';
import { ReviewUnavailableError } from '../errors.ts';
import { describeKubeError } from './errors.ts';

/** The authenticated user, as the TokenReview reports it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/**
 * One permission a request needs: a verb on a resource, or on a URL path. A resource without a
 * namespace is cluster-scoped, or, with `allNamespaces`, a namespaced one across every namespace.
 */
export type Access =
  | { kind: 'resource'; verb: string; group: string; resource: string; namespace?: string; name?: string; allNamespaces?: boolean }
  | { kind: 'path'; verb: string; path: string };

/** An access to one of this project's resources (group edgeplane.io), as the API's routes declare them. */
export const edgeplaneAccess = (verb: string, plural: string, scope: { namespace?: string; name?: string; allNamespaces?: boolean } = {}): Access => ({
  kind: 'resource',
  verb,
  group: GROUP,
  resource: plural,
  ...scope,
});

export interface Decision {
  allowed: boolean;
  /** The authorizer's explanation, when it gave one. */
  reason?: string;
}

export interface AccessReviewer {
  /** The user the token belongs to; null when the API server does not accept the token. */
  authenticate(token: string): Promise<UserInfo | null>;
  authorize(user: UserInfo, access: Access): Promise<Decision>;
}

export interface KubeAccessReviewOptions {
  /** Longest wait for one review, ms. */
  timeoutMs: number;
  /** Audiences the token must be issued for; empty: the API server's own. */
  audiences?: string[];
}

/** Sends each request with an abort signal, so a silent API server cannot hold a caller. */
class TimedHttp extends IsomorphicFetchHttpLibrary {
  readonly #timeoutMs: number;
  constructor(timeoutMs: number) {
    super();
    this.#timeoutMs = timeoutMs;
  }
  override send(request: RequestContext) {
    request.setSignal(AbortSignal.timeout(this.#timeoutMs));
    return super.send(request);
  }
}

function unavailable(review: string, timeoutMs: number, err: unknown): ReviewUnavailableError {
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return new ReviewUnavailableError(review, `no answer within ${timeoutMs} ms`, { cause: err });
  if (err instanceof ApiException && (err.code === 401 || err.code === 403)) {
    // The control plane's own credentials lack `create` on the review resource: an RBAC gap
    // in the deployment, never the caller's fault.
    return new ReviewUnavailableError(review, `the control plane may not create a ${review} (${describeKubeError(err)})`, { cause: err });
  }
  return new ReviewUnavailableError(review, describeKubeError(err), { cause: err });
}

export function kubeAccessReviewer(kc: KubeConfig, options: KubeAccessReviewOptions): AccessReviewer {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const call = { httpApi: new TimedHttp(options.timeoutMs) };
  const audiences = options.audiences?.length ? { audiences: options.audiences } : {};

  return {
    async authenticate(token) {
      let review;
      try {
        review = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...audiences } } }, call);
      } catch (err) {
        throw unavailable('TokenReview', options.timeoutMs, err);
      }
      const status = review.status;
      const user = status?.user;
      if (!status?.authenticated || !user?.username) return null;
      return {
        username: user.username,
        ...(user.uid ? { uid: user.uid } : {}),
        groups: user.groups ?? [],
        ...(user.extra && Object.keys(user.extra).length ? { extra: user.extra } : {}),
      };
    },

    async authorize(user, access) {
      const spec: V1SubjectAccessReviewSpec = {
        user: user.username,
        groups: user.groups,
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
        ...(access.kind === 'resource'
          ? {
              resourceAttributes: {
                verb: access.verb,
                group: access.group,
                resource: access.resource,
                ...(access.namespace ? { namespace: access.namespace } : {}),
                ...(access.name ? { name: access.name } : {}),
              },
            }
          : { nonResourceAttributes: { verb: access.verb, path: access.path } }),
      };
      let review;
      try {
        review = await authz.createSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } }, call);
      } catch (err) {
        throw unavailable('SubjectAccessReview', options.timeoutMs, err);
      }
      const status = review.status;
      const reason = [status?.reason, status?.evaluationError].filter(Boolean).join('; ');
      return { allowed: status?.allowed === true && status.denied !== true, ...(reason ? { reason } : {}) };
    },
  };
}

/** A permission as a person reads it, e.g. `list edgemodeldeployments.edgeplane.io in namespace "a"`. */
export function describeAccess(access: Access): string {
  if (access.kind === 'path') return `${access.verb} ${access.path}`;
  const resource = access.group ? `${access.resource}.${access.group}` : access.resource;
  const named = access.name ? ` "${access.name}"` : '';
  if (access.namespace) return `${access.verb} ${resource}${named} in namespace "${access.namespace}"`;
  return `${access.verb} ${resource}${named}${access.allNamespaces ? ' in all namespaces' : ''}`;
}
