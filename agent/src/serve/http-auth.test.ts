import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../config.ts';
import { build } from './http.ts';
import { isLoopbackHost, readHttpToken, requireBearer } from './http-auth.ts';
import type { ModelRegistry } from './registry.ts';

// No model is served: routing and the token check are what is under test here.
const registry: ModelRegistry = { model: () => null, models: () => [] };
const TOKEN = 'k3Jd8-token-of-32-characters-ok';
const guarded = build({ registry, bearerToken: TOKEN });
const open = build({ registry });
afterAll(() => Promise.all([guarded.close(), open.close()]));

const infer = { method: 'POST' as const, url: '/v2/models/m/infer', payload: { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] } };

describe('local endpoint with a bearer token', () => {
  it('keeps the health checks open', async () => {
    expect((await guarded.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await guarded.inject('/v2/health/ready?verbose=1')).statusCode).toBe(200);
  });

  const rows: { name: string; url?: string; authorization?: string; status: number; code: string }[] = [
    { name: 'no header', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'another scheme', authorization: `Basic ${TOKEN}`, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'a wrong token', authorization: 'Bearer k3Jd8-token-of-32-characters-no', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'a prefix of the token', authorization: `Bearer ${TOKEN.slice(0, -1)}`, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'the token with more after it', authorization: `Bearer ${TOKEN}x`, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'model metadata without a token', url: '/v2/models/m', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'model readiness without a token', url: '/v2/models/m/ready', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'an unknown route without a token', url: '/v2/health/live/../../v2/models/m', status: 401, code: 'UNAUTHENTICATED' },
    { name: 'the token', authorization: `Bearer ${TOKEN}`, status: 404, code: 'MODEL_NOT_FOUND' },
    { name: 'the token, scheme in lower case', authorization: `bearer ${TOKEN}`, status: 404, code: 'MODEL_NOT_FOUND' },
  ];
  it.each(rows)('$status $code with $name', async (row) => {
    const res = await guarded.inject({ ...infer, ...(row.url ? { method: 'GET', url: row.url, payload: undefined } : {}), headers: row.authorization ? { authorization: row.authorization } : {} });
    expect(res.statusCode).toBe(row.status);
    expect(res.json().code).toBe(row.code);
    if (row.status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('needs no token when none is configured', async () => {
    const res = await open.inject(infer);
    expect([res.statusCode, res.json().code]).toEqual([404, 'MODEL_NOT_FOUND']);
  });

  it('refuses before the body is read', async () => {
    // onRequest runs before parsing: an unauthenticated body over the limit is still a 401.
    const big = await guarded.inject({ method: 'POST', url: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(9 * 1024 * 1024) });
    expect(big.statusCode).toBe(401);
  });

  it('is a plain onRequest hook usable on any app', () => {
    expect(typeof requireBearer(TOKEN)).toBe('function');
  });
});

describe('readHttpToken', () => {
  const files: Record<string, string> = { '/ok': `${TOKEN}\n`, '/short': 'abc\n', '/empty': '', '/two': `${TOKEN} ${TOKEN}` };
  const read = (p: string) => {
    const text = files[p];
    if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return text;
  };
  it('reads the token without its newline', () => {
    expect(readHttpToken('/ok', '--http-token-file', read)).toBe(TOKEN);
  });
  const bad: { path: string; message: RegExp }[] = [
    { path: '/missing', message: /cannot read \/missing: ENOENT/ },
    { path: '/short', message: /at least 16 characters/ },
    { path: '/empty', message: /at least 16 characters/ },
    { path: '/two', message: /without white space/ },
  ];
  it.each(bad)('refuses $path naming the setting', ({ path, message }) => {
    let err: unknown;
    try {
      readHttpToken(path, '--http-token-file', read);
    } catch (e) {
      err = e;
    }
    expect(isConfigError(err)).toBe(true);
    expect((err as { setting: string }).setting).toBe('--http-token-file');
    expect((err as Error).message).toMatch(message);
  });
});

describe('isLoopbackHost', () => {
  const rows: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
    ['gateway.local', false],
  ];
  it.each(rows)('%s -> %s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });
});
