// An optional shared bearer token for the local inference endpoint. On loopback (the default
// bind) only processes on the gateway reach it; a wider bind should carry a token, read once
// from a file at start and compared in constant time on every request but the health checks.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ConfigError } from '../config.ts';
import { UnauthenticatedError } from '../workloads/errors.ts';

/** KServe's server health routes: open, so probes and load balancers need no secret. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/v2/health/live', '/v2/health/ready']);

/** Shortest token accepted, characters: something an attacker cannot guess in a lifetime. */
export const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 4096;

/**
 * The token in `path`: the file's content without surrounding white space. Throws ConfigError
 * naming `setting` when it cannot be read, is empty, too short, or holds white space inside.
 */
export function readHttpToken(path: string, setting = '--http-token-file', read: (p: string) => string = (p) => readFileSync(p, 'utf8')): string {
  let text: string;
  try {
    text = read(path);
  } catch (cause) {
    throw new ConfigError(setting, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(setting, `${path} must hold a token of at least ${MIN_TOKEN_LENGTH} characters`);
  if (token.length > MAX_TOKEN_LENGTH) throw new ConfigError(setting, `${path} holds more than ${MAX_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw new ConfigError(setting, `${path} must hold one token without white space`);
  return token;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant time in the presented token's content: both sides are hashed to 32 bytes first. */
export function tokenMatches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

/** An onRequest hook refusing every request but the health checks without `Bearer <token>`. */
export function requireBearer(token: string): onRequestAsyncHookHandler {
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    // The matched route, not the raw URL: no spelling of a path reaches another route's rule.
    if (OPEN_PATHS.has(request.routeOptions.url ?? '')) return;
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
    if (!m) throw new UnauthenticatedError('this endpoint needs an Authorization: Bearer <token> header');
    if (!tokenMatches(m[1]!, expected)) throw new UnauthenticatedError('the bearer token is not the one this endpoint accepts');
  };
}
