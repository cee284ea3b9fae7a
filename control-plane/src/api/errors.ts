// Every error the HTTP API returns, in one catalogue: a code, an HTTP status, a message.
// Clients and tests branch on the code.

export const API_ERRORS = {
  ROUTE_NOT_FOUND: { status: 404, message: 'no such route' },
  NODE_NOT_FOUND: { status: 404, message: 'no such EdgeNode' },
  DEPLOYMENT_NOT_FOUND: { status: 404, message: 'no such EdgeModelDeployment' },
  BAD_REQUEST: { status: 400, message: 'the request is not valid' },
  UNAUTHENTICATED: { status: 401, message: 'a valid bearer token is required' },
  FORBIDDEN: { status: 403, message: 'the caller lacks the permission this request needs' },
  AUTH_UNAVAILABLE: { status: 503, message: 'the Kubernetes API could not review the request; try again' },
  NOT_READY: { status: 503, message: 'the control plane is not ready' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly statusCode: number;

  constructor(code: ApiErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? API_ERRORS[code].message, options);
    this.code = code;
    this.statusCode = API_ERRORS[code].status;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** JSON Schema of the error body, for route response schemas. */
export const errorBodySchema = {
  type: 'object',
  // requestId: set on 500s, the id the failure's log line carries (also the x-request-id header).
  properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
  required: ['code', 'message'],
} as const;

/** Response schemas of the errors every authenticated route can answer. */
export const authErrorSchemas = { 401: errorBodySchema, 403: errorBodySchema, 503: errorBodySchema } as const;

/** Sent with every 401, as RFC 6750 asks. */
export const WWW_AUTHENTICATE = 'Bearer realm="edgeplane"';
