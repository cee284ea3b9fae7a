import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOG_REDACT_PATHS, REDACTED, redactLogValue, redactSecrets, redactUrl } from './redact.ts';

const SEED = `SU${'A'.repeat(56)}`;
const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkMiLCJpYXQiOjE3MDB9.c2lnbmF0dXJlLWJ5dGVz';

describe('redactUrl', () => {
  const rows: Array<{ name: string; url: string; want: string }> = [
    { name: 'nats user and password', url: 'nats://agent:s3cret@nats.example:4222', want: 'nats://agent:***@nats.example:4222' },
    { name: 'redis password only', url: 'redis://:hunter2@127.0.0.1:6379/0', want: 'redis://:***@127.0.0.1:6379/0' },
    { name: 'https basic credentials', url: 'https://u:p@models.example/x.onnx', want: 'https://u:***@models.example/x.onnx' },
    { name: 'a bare token user', url: 'nats://t0k3n@h:4222', want: 'nats://***@h:4222' },
    { name: 'an @ inside the password', url: 'redis://:p@ss@h:6379', want: 'redis://:***@h:6379' },
    { name: 'a list of servers', url: 'nats://a:p1@h1:4222,tls://b:p2@h2:4222', want: 'nats://a:***@h1:4222,tls://b:***@h2:4222' },
    { name: 'no credentials', url: 'nats://127.0.0.1:4222', want: 'nats://127.0.0.1:4222' },
    { name: 'a secret query parameter', url: 'https://h/m.onnx?X-Amz-Signature=abc123&x=1', want: 'https://h/m.onnx?X-Amz-Signature=***&x=1' },
    { name: 'an @ in the path only', url: 'https://h/models/@scope/x', want: 'https://h/models/@scope/x' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(redactUrl(row.url)).toBe(row.want);
    });
  }
});

describe('redactSecrets', () => {
  it('removes credentials from free text, such as an error message', () => {
    const text = `cannot connect to Redis at redis://:hunter2@10.0.0.1:6379: ECONNREFUSED; header Authorization: Bearer abcdefgh.ijk; seed ${SEED}; jwt ${JWT}`;
    const out = redactSecrets(text);
    for (const secret of ['hunter2', 'abcdefgh.ijk', SEED, JWT]) expect(out).not.toContain(secret);
    expect(out).toContain('redis://:***@10.0.0.1:6379');
    expect(out).toContain('Bearer ***');
  });

  it('removes a PEM private key block', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----';
    expect(redactSecrets(`key: ${pem}`)).toBe(`key: -----BEGIN EC PRIVATE KEY-----${REDACTED}-----END EC PRIVATE KEY-----`);
  });

  it('leaves ordinary text alone', () => {
    const text = 'artifact nats-obj://ep-models/cls-int8.onnx fetched; node gw-7 at battery 35%';
    expect(redactSecrets(text)).toBe(text);
  });

  it('never throws and returns a string of bounded length for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        const out = redactSecrets(s);
        expect(typeof out).toBe('string');
        expect(out.length).toBeLessThanOrEqual(s.length + 64);
      }),
      { numRuns: 300 },
    );
  });

  it('never leaves a generated password in a URL', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,24}$/);
    fc.assert(
      fc.property(fc.constantFrom('nats', 'tls', 'redis', 'rediss', 'https', 'wss'), word, word.filter((p) => p.length >= 6), word, (scheme, user, password, host) => {
        const url = `${scheme}://${user}:${password}@${host}:4222`;
        expect(redactUrl(url)).toBe(`${scheme}://${user}:${REDACTED}@${host}:4222`);
      }),
      { numRuns: 200 },
    );
  });

  it('costs a bounded scan on a megabyte of adversarial text', () => {
    const inputs = ['a'.repeat(2 ** 20), 'eyJ-'.repeat(2 ** 18), 'x://'.repeat(2 ** 18), `nats://${'u'.repeat(2 ** 20)}`, 'Bearer '.repeat(2 ** 17)];
    const started = performance.now();
    for (const s of inputs) expect(redactSecrets(s).length).toBeLessThan(70 * 1024);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('redactLogValue', () => {
  it('censors secret fields at any depth and redacts URLs in strings and errors', () => {
    const err = new Error('cannot connect to NATS at nats://a:pw@h:4222');
    const value = { nats: 'nats://a:pw@h:4222', auth: { token: 'tok', nested: { password: 'pw', ok: 1 } }, err, list: ['redis://:pw@h'] };
    const out = JSON.stringify(redactLogValue(value));
    expect(out).not.toContain('pw');
    expect(out).not.toContain('"tok"');
    expect(out).toContain('"ok":1');
    expect(out).toContain('nats://a:***@h:4222');
  });

  it('returns the value itself when nothing is secret, and survives cycles', () => {
    const plain = { node: 'gw-7', n: 3, list: [1, 2] };
    expect(redactLogValue(plain)).toBe(plain);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactLogValue(cyclic)).toEqual({ a: 1, self: '[Circular]' });
  });

  it('never throws on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 6 }), (v) => {
        redactLogValue(v);
      }),
      { numRuns: 300 },
    );
  });

  it('has pino redact paths for the secret fields at the top level and one level down', () => {
    for (const key of ['token', 'password', 'seed', 'jwt', 'authorization']) {
      expect(LOG_REDACT_PATHS).toContain(key);
      expect(LOG_REDACT_PATHS).toContain(`*.${key}`);
    }
    expect(LOG_REDACT_PATHS).toContain('req.headers.authorization');
  });
});
