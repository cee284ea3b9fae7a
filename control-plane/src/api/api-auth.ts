// How the HTTP API is protected, chosen once at start from the configuration: reviews by the
// Kubernetes API (the default), or nothing when the operator turned it off in so many words,
// which is logged as a warning no one can miss.
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { AccessReviewer } from '../kube/access-review.ts';
import type { ApiAuth } from './app.ts';
import { CachedAccessReview } from './auth-cache.ts';

/** Longest wait for one TokenReview or SubjectAccessReview, ms. */
export const REVIEW_TIMEOUT_MS = 5000;
/** How long a review's answer is reused, ms: a revoked token or binding takes effect within this. */
export const REVIEW_CACHE_TTL_MS = 10_000;

export function apiAuth(
  config: Pick<Config, 'insecureNoAuth' | 'metricsAuth' | 'apiAddr'>,
  reviewer: (options: { timeoutMs: number }) => AccessReviewer,
  log: Logger,
): ApiAuth {
  if (config.insecureNoAuth) {
    log.warn(
      { setting: 'EP_INSECURE_NO_AUTH (--insecure-no-auth)', api: `${config.apiAddr.host}:${config.apiAddr.port}` },
      "AUTHENTICATION IS OFF: anyone who can reach the HTTP API reads every namespace's deployments, every node and the metrics",
    );
    return { mode: 'none' };
  }
  const check = new CachedAccessReview(reviewer({ timeoutMs: REVIEW_TIMEOUT_MS }), { ttlMs: REVIEW_CACHE_TTL_MS });
  return { mode: 'rbac', check, metrics: config.metricsAuth, log };
}
