// Typed errors of the control plane. Each has a stable `code`; callers branch on the
// predicate, never on message text.

/** A setting from flags or the environment is missing or invalid. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
  /** The flag or environment variable at fault, e.g. `EP_NATS_URL (--nats-url)`. */
  readonly setting: string;

  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super(`invalid configuration: ${setting}: ${message}`, options);
    this.setting = setting;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}

/** A Kubernetes write kept conflicting with concurrent writers after every retry. */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError';
  readonly code = 'WRITE_CONFLICT';
  readonly resource: string;

  constructor(resource: string, attempts: number, options?: { cause?: unknown }) {
    super(`write to ${resource} still conflicted after ${attempts} attempts`, options);
    this.resource = resource;
  }
}

export function isWriteConflictError(err: unknown): err is WriteConflictError {
  return err instanceof WriteConflictError;
}

/** A KV compare-and-set lost to another writer after every retry. */
export class AssignmentConflictError extends Error {
  override readonly name = 'AssignmentConflictError';
  readonly code = 'ASSIGNMENT_CONFLICT';
  readonly node: string;

  constructor(node: string, attempts: number, options?: { cause?: unknown }) {
    super(`assignment of node ${node} still conflicted after ${attempts} attempts`, options);
    this.node = node;
  }
}

export function isAssignmentConflictError(err: unknown): err is AssignmentConflictError {
  return err instanceof AssignmentConflictError;
}

/** A write was attempted by a replica that does not hold the leader lease. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly code = 'NOT_LEADER';

  constructor(action: string) {
    super(`not the leader: refusing to ${action}`);
  }
}

export function isNotLeaderError(err: unknown): err is NotLeaderError {
  return err instanceof NotLeaderError;
}

/**
 * The Kubernetes API could not answer a TokenReview or SubjectAccessReview (timeout, network,
 * or the control plane itself lacks the right to create one): no decision was made.
 */
export class ReviewUnavailableError extends Error {
  override readonly name = 'ReviewUnavailableError';
  readonly code = 'REVIEW_UNAVAILABLE';
  /** `TokenReview` or `SubjectAccessReview`. */
  readonly review: string;

  constructor(review: string, detail: string, options?: { cause?: unknown }) {
    super(`${review} failed: ${detail}`, options);
    this.review = review;
  }
}

export function isReviewUnavailableError(err: unknown): err is ReviewUnavailableError {
  return err instanceof ReviewUnavailableError;
}

/** nats-server did not take an account update (revocations) sent over the system account. */
export class AccountUpdateError extends Error {
  override readonly name = 'AccountUpdateError';
  readonly code = 'ACCOUNT_UPDATE_FAILED';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isAccountUpdateError(err: unknown): err is AccountUpdateError {
  return err instanceof AccountUpdateError;
}

/**
 * A KV write refused because the entry was written under a newer leader term (Lease
 * transitions) than this replica's: it lost the Lease and must not overwrite its successor.
 */
export class StaleTermError extends Error {
  override readonly name = 'StaleTermError';
  readonly code = 'STALE_TERM';
  readonly term: number;
  readonly storedTerm: number;

  constructor(action: string, term: number, storedTerm: number) {
    super(`leader term ${term} is older than term ${storedTerm} in the store: refusing to ${action}`);
    this.term = term;
    this.storedTerm = storedTerm;
  }
}

export function isStaleTermError(err: unknown): err is StaleTermError {
  return err instanceof StaleTermError;
}

/** A Lease API call did not answer within its timeout; the call was aborted. */
export class LeaseTimeoutError extends Error {
  override readonly name = 'LeaseTimeoutError';
  readonly code = 'LEASE_TIMEOUT';

  constructor(call: string, timeoutMs: number) {
    super(`${call} did not answer within ${timeoutMs} ms`);
  }
}

export function isLeaseTimeoutError(err: unknown): err is LeaseTimeoutError {
  return err instanceof LeaseTimeoutError;
}
