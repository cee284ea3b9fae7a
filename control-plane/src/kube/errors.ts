// Kubernetes API failures by HTTP status, read from client-node's ApiException or a watch error.
import { ApiException } from '@kubernetes/client-node';

export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err && typeof err === 'object') {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;
export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;
/** Create of an existing object answers 409 too, with reason AlreadyExists. */
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ApiException && err.code === 409 && JSON.stringify(err.body ?? '').includes('AlreadyExists');

/** A short description of a Kubernetes error for logs, without the response headers. */
export function describeKubeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    const message = typeof body === 'string' ? safeMessage(body) : body?.message;
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return body.slice(0, 200);
  }
}
