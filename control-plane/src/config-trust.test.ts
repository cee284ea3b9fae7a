// Settings of node identity: the trust file, where bootstrap tokens live, credential lifetime.
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from './config.ts';
import { isConfigError } from './errors.ts';

const secure = { EP_NATS_URL: 'tls://nats:4222', EP_NATS_CREDS: '/creds' };

function parse(argv: string[], env: Record<string, string> = {}): Config {
  const r = parseConfig({ argv, env: { ...secure, ...env } });
  if (r.help) throw new Error('help');
  return r.config;
}

describe('identity settings', () => {
  const rows: { name: string; argv?: string[]; env?: Record<string, string>; want: Partial<Config> }[] = [
    { name: 'defaults: no trust file, tokens beside the lease, 24 h credentials', want: { bootstrapNamespace: 'default', nodeCredentialTtlMs: 86_400_000 } },
    { name: 'tokens follow the lease namespace', argv: ['--lease-namespace', 'edgeplane'], want: { bootstrapNamespace: 'edgeplane' } },
    { name: 'tokens in their own namespace', env: { EP_LEASE_NAMESPACE: 'edgeplane', EP_BOOTSTRAP_NAMESPACE: 'tokens' }, want: { bootstrapNamespace: 'tokens' } },
    { name: 'trust file by flag', argv: ['--trust-file', '/etc/edgeplane/trust.json'], want: { trustFile: '/etc/edgeplane/trust.json' } },
    { name: 'trust file by env', env: { EP_TRUST_FILE: '/t.json' }, want: { trustFile: '/t.json' } },
    { name: 'ttl in hours and minutes', argv: ['--node-credential-ttl', '1h30m'], want: { nodeCredentialTtlMs: 5_400_000 } },
    { name: 'ttl in days', env: { EP_NODE_CREDENTIAL_TTL: '7d' }, want: { nodeCredentialTtlMs: 7 * 86_400_000 } },
  ];
  it.each(rows)('$name', ({ argv = [], env = {}, want }) => {
    expect(parse(argv, env)).toMatchObject(want);
  });

  it('has no trust file unless one is named', () => {
    expect(parse([]).trustFile).toBeUndefined();
  });

  const bad: { name: string; argv?: string[]; env?: Record<string, string>; setting: string }[] = [
    { name: 'ttl without a unit', env: { EP_NODE_CREDENTIAL_TTL: '3600' }, setting: 'EP_NODE_CREDENTIAL_TTL (--node-credential-ttl)' },
    { name: 'ttl below 10 s', argv: ['--node-credential-ttl', '5s'], setting: 'EP_NODE_CREDENTIAL_TTL (--node-credential-ttl)' },
    { name: 'ttl above 30 days', argv: ['--node-credential-ttl', '31d'], setting: 'EP_NODE_CREDENTIAL_TTL (--node-credential-ttl)' },
    { name: 'namespace not a DNS label', env: { EP_BOOTSTRAP_NAMESPACE: 'Kube_System' }, setting: 'EP_BOOTSTRAP_NAMESPACE (--bootstrap-namespace)' },
    { name: 'empty trust file', argv: ['--trust-file='], setting: 'EP_TRUST_FILE (--trust-file)' },
  ];
  it.each(bad)('refuses $name, naming the setting', ({ argv = [], env = {}, setting }) => {
    let caught: unknown;
    try {
      parse(argv, env);
    } catch (err) {
      caught = err;
    }
    expect(isConfigError(caught) && caught.setting).toBe(setting);
  });
});
