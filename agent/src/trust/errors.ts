// Failures of the node's identity: the CA pin, the join token, enrolment, renewal and the
// credentials on disk. One class per failure, each with a stable code and a predicate. No
// message carries a token secret, a JWT or a seed.

export const IDENTITY_ERROR_CODES = [
  'NO_NATS_IDENTITY',
  'CA_PIN_MISMATCH',
  'CA_DISCOVERY_FAILED',
  'JOIN_TOKEN_INVALID',
  'ENROLL_REFUSED',
  'ENROLL_UNAVAILABLE',
  'RENEW_REFUSED',
  'RENEW_UNAVAILABLE',
  'CREDENTIALS_INVALID',
  'CA_FILE_INVALID',
] as const;
export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

/** Base of the catalogue; not thrown itself. */
export abstract class IdentityError extends Error {
  abstract readonly code: IdentityErrorCode;
  /** The agent cannot go on without an operator's change (as opposed to a retryable outage). */
  abstract readonly fatal: boolean;
}

export const isIdentityError = (err: unknown): err is IdentityError => err instanceof IdentityError;

/** Neither credentials, a bootstrap token nor the explicit insecure switch: nothing to connect as. */
export class NoIdentityError extends IdentityError {
  override readonly name = 'NoIdentityError';
  readonly code = 'NO_NATS_IDENTITY';
  readonly fatal = true;
}
export const isNoIdentityError = (err: unknown): err is NoIdentityError => err instanceof NoIdentityError;

/** No certificate in the server's chain has the pinned SubjectPublicKeyInfo hash. */
export class CaPinMismatchError extends IdentityError {
  override readonly name = 'CaPinMismatchError';
  readonly code = 'CA_PIN_MISMATCH';
  readonly fatal = true;
  readonly expected: string;
  readonly seen: readonly string[];
  constructor(server: string, expected: string, seen: readonly string[]) {
    super(
      `the NATS server ${server} is not signed by the pinned CA: expected ${expected}, the server's chain has ${seen.length ? seen.join(', ') : 'no certificate'}; check --ca-hash (edgeplane certs prints the right one)`,
    );
    this.expected = expected;
    this.seen = seen;
  }
}
export const isCaPinMismatchError = (err: unknown): err is CaPinMismatchError => err instanceof CaPinMismatchError;

/** The server's chain could not be read (unreachable, not NATS, no TLS). Retried. */
export class CaDiscoveryError extends IdentityError {
  override readonly name = 'CaDiscoveryError';
  readonly code = 'CA_DISCOVERY_FAILED';
  readonly fatal = false;
}
export const isCaDiscoveryError = (err: unknown): err is CaDiscoveryError => err instanceof CaDiscoveryError;

/** The join token is malformed; `field` names the part, never its value. */
export class JoinTokenError extends IdentityError {
  override readonly name = 'JoinTokenError';
  readonly code = 'JOIN_TOKEN_INVALID';
  readonly fatal = true;
  readonly field: string;
  constructor(field: string, message: string) {
    super(`bootstrap token: ${field}: ${message}`);
    this.field = field;
  }
}
export const isJoinTokenError = (err: unknown): err is JoinTokenError => err instanceof JoinTokenError;

/** The control plane answered and said no; `reason` is its code. Retried slowly: an operator may fix the token. */
export class EnrollRefusedError extends IdentityError {
  override readonly name = 'EnrollRefusedError';
  readonly code = 'ENROLL_REFUSED';
  readonly fatal = false;
  readonly reason: string;
  /** When the control plane asked to be asked again, ms. */
  readonly retryAfterMs: number | undefined;
  constructor(reason: string, retryAfterMs?: number) {
    super(`enrolment refused: ${reason}`);
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}
export const isEnrollRefusedError = (err: unknown): err is EnrollRefusedError => err instanceof EnrollRefusedError;

/** No answer: server unreachable, bootstrap user refused by the server, timeout, no responder. Retried. */
export class EnrollUnavailableError extends IdentityError {
  override readonly name = 'EnrollUnavailableError';
  readonly code = 'ENROLL_UNAVAILABLE';
  readonly fatal = false;
}
export const isEnrollUnavailableError = (err: unknown): err is EnrollUnavailableError => err instanceof EnrollUnavailableError;

export class RenewRefusedError extends IdentityError {
  override readonly name = 'RenewRefusedError';
  readonly code = 'RENEW_REFUSED';
  readonly fatal = false;
  readonly reason: string;
  /** When the control plane asked to be asked again, ms. */
  readonly retryAfterMs: number | undefined;
  constructor(reason: string, retryAfterMs?: number) {
    super(`credential renewal refused: ${reason}`);
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}
export const isRenewRefusedError = (err: unknown): err is RenewRefusedError => err instanceof RenewRefusedError;

export class RenewUnavailableError extends IdentityError {
  override readonly name = 'RenewUnavailableError';
  readonly code = 'RENEW_UNAVAILABLE';
  readonly fatal = false;
}
export const isRenewUnavailableError = (err: unknown): err is RenewUnavailableError => err instanceof RenewUnavailableError;

/** A credentials file, or an issued JWT, that cannot be this node's: unparsable, another node, another key. */
export class CredentialsError extends IdentityError {
  override readonly name = 'CredentialsError';
  readonly code = 'CREDENTIALS_INVALID';
  readonly fatal = true;
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(`${source}: ${message}`, options);
    this.source = source;
  }
}
export const isCredentialsError = (err: unknown): err is CredentialsError => err instanceof CredentialsError;

/** The CA file given by --nats-ca cannot be read or is not a certificate. */
export class CaFileError extends IdentityError {
  override readonly name = 'CaFileError';
  readonly code = 'CA_FILE_INVALID';
  readonly fatal = true;
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}
export const isCaFileError = (err: unknown): err is CaFileError => err instanceof CaFileError;
