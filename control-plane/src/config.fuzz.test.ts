// The control plane's configuration against arbitrary flags and environment: a Config or a
// ConfigError naming the setting, never another exception, and no secret from a URL echoed
// back in the error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, SETTINGS } from './config.ts';
import { isConfigError } from './errors.ts';

function configOrTypedError(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (err) {
    if (!isConfigError(err)) throw err;
    return err.message;
  }
}

describe('control-plane config parsing (fuzzed)', () => {
  const envNames = SETTINGS.map((s) => s.env);
  const flags = SETTINGS.map((s) => `--${s.flag}`);

  it('arbitrary environment values: a config or a ConfigError', () => {
    const env = fc.dictionary(fc.constantFrom(...envNames, 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'), fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '0', '-1', '1e309', 'NaN', 'true', 'nats://u:p@h:1', '::1:80')), { maxKeys: 8 });
    fc.assert(
      fc.property(env, (e) => {
        configOrTypedError(() => parseConfig({ argv: [], env: { EP_INSECURE_NATS: 'true', ...e } }));
      }),
      { numRuns: 400 },
    );
  });

  it('arbitrary flags: a config or a ConfigError', () => {
    const argv = fc.array(fc.oneof(fc.constantFrom(...flags, '--help', '-h', '--'), fc.string({ maxLength: 20 })), { maxLength: 8 });
    fc.assert(
      fc.property(argv, (a) => {
        configOrTypedError(() => parseConfig({ argv: a, env: { EP_INSECURE_NATS: 'true' } }));
      }),
      { numRuns: 400 },
    );
  });

  it('a megabyte setting is refused quickly, and a refused URL is not echoed with its password', () => {
    const started = performance.now();
    for (const env of SETTINGS.map((s) => ({ [s.env]: `x${'y'.repeat(2 ** 20)}` }))) configOrTypedError(() => parseConfig({ argv: [], env }));
    expect(performance.now() - started).toBeLessThan(3000);
    const message = configOrTypedError(() => parseConfig({ argv: [], env: { EP_REDIS_URL: 'http://admin:s3cr3t@redis:6379' } }));
    expect(message).not.toBeNull();
    expect(message).not.toContain('s3cr3t');
  });
});

describe('control-plane heartbeat interval', () => {
  it('is bounded as agents bound it, so the control plane never tells them a pace they refuse', () => {
    // A grace period of two of the longest intervals, which the grace period must cover.
    const interval = (v: string) =>
      configOrTypedError(() => parseConfig({ argv: [], env: { EP_INSECURE_NATS: 'true', EP_HEARTBEAT_INTERVAL_MS: v, EP_NODE_MONITOR_GRACE_PERIOD_MS: '1200002' } }));
    expect(interval('100')).toBeNull();
    expect(interval('600000')).toBeNull();
    expect(interval('99')).toMatch(/EP_HEARTBEAT_INTERVAL_MS/);
    expect(interval('600001')).toMatch(/EP_HEARTBEAT_INTERVAL_MS/);
  });
});
