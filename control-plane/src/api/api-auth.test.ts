import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AccessReviewer } from '../kube/access-review.ts';
import { apiAuth, REVIEW_TIMEOUT_MS } from './api-auth.ts';

function capture() {
  const lines: { level: number; msg: string; setting?: string }[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    }),
  );
  return { log, lines };
}

const reviewer: AccessReviewer = { authenticate: async () => null, authorize: async () => ({ allowed: false }) };
const apiAddr = { host: '0.0.0.0', port: 8080 };

describe('apiAuth', () => {
  it('reviews with the Kubernetes API by default, with a timeout, and logs nothing', () => {
    const { log, lines } = capture();
    const asked: number[] = [];
    const auth = apiAuth({ insecureNoAuth: false, metricsAuth: 'rbac', apiAddr }, ({ timeoutMs }) => (asked.push(timeoutMs), reviewer), log);
    expect(auth.mode).toBe('rbac');
    if (auth.mode === 'rbac') expect(auth.metrics).toBe('rbac');
    expect(asked).toEqual([REVIEW_TIMEOUT_MS]);
    expect(lines).toEqual([]);
  });

  it('turned off explicitly: no reviews, and a warning naming the setting', async () => {
    const { log, lines } = capture();
    const auth = apiAuth({ insecureNoAuth: true, metricsAuth: 'rbac', apiAddr }, () => {
      throw new Error('no reviewer when authentication is off');
    }, log);
    expect(auth).toEqual({ mode: 'none' });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, setting: 'EP_INSECURE_NO_AUTH (--insecure-no-auth)' });
    expect(lines[0]!.msg).toMatch(/^AUTHENTICATION IS OFF/);
  });
});
