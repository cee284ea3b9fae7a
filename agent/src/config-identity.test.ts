import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfig, usage, type AgentConfig } from './config.ts';

const HASH = `sha256:${'ab'.repeat(32)}`;

const configOf = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): AgentConfig => {
  const result = parseConfig({
    argv: ['--node', 'edge-1', ...argv],
    env,
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    },
  });
  if (result.kind !== 'run') throw new Error(`expected run, got ${result.kind}`);
  return result.config;
};

const failure = (argv: string[], env: Record<string, string> = {}) => {
  try {
    configOf(argv, env);
  } catch (err) {
    if (isConfigError(err)) return { setting: err.setting, message: err.message };
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('agent identity settings', () => {
  it('are off by default: no token, no pin, not insecure', () => {
    const c = configOf([]);
    expect(c.bootstrapToken).toBeUndefined();
    expect(c.bootstrapTokenFile).toBeUndefined();
    expect(c.caHash).toBeUndefined();
    expect(c.insecureNats).toBe(false);
  });

  const rows: { name: string; argv?: string[]; env?: Record<string, string>; files?: Record<string, string>; want: Partial<AgentConfig> }[] = [
    { name: 'token and pin by flag', argv: ['--bootstrap-token', 't', '--ca-hash', HASH], want: { bootstrapToken: 't', caHash: HASH } },
    { name: 'token file and pin by environment', env: { EP_AGENT_BOOTSTRAP_TOKEN_FILE: '/etc/t', EP_AGENT_CA_HASH: HASH }, want: { bootstrapTokenFile: '/etc/t', caHash: HASH } },
    { name: 'an upper-case pin, lower-cased', argv: ['--ca-hash', HASH.toUpperCase().replace('SHA256', 'sha256'), '--nats-creds', '/c'], want: { caHash: HASH } },
    { name: 'a token with --nats-ca instead of a pin', argv: ['--bootstrap-token', 't', '--nats-ca', '/ca.pem'], want: { bootstrapToken: 't', natsCa: '/ca.pem' } },
    { name: 'the insecure switch alone', argv: ['--insecure-nats'], want: { insecureNats: true } },
    { name: 'the insecure switch by environment', env: { EP_AGENT_INSECURE_NATS: 'true' }, want: { insecureNats: true } },
    { name: 'the insecure switch off by environment', env: { EP_AGENT_INSECURE_NATS: 'false' }, want: { insecureNats: false } },
    { name: 'the insecure switch in the file', argv: ['--config', '/a.yaml'], files: { '/a.yaml': 'insecureNats: true\n' }, want: { insecureNats: true } },
  ];
  for (const r of rows) it(r.name, () => expect(configOf(r.argv ?? [], r.env ?? {}, r.files ?? {})).toMatchObject(r.want));

  const bad: { name: string; argv?: string[]; env?: Record<string, string>; setting: string; says: RegExp }[] = [
    { name: 'a malformed pin', argv: ['--ca-hash', 'sha256:abc'], setting: '--ca-hash', says: /sha256:<64 hex digits>/ },
    { name: 'a pin of another algorithm', env: { EP_AGENT_CA_HASH: `sha1:${'a'.repeat(40)}` }, setting: 'EP_AGENT_CA_HASH', says: /sha256/ },
    { name: 'a token and a token file', argv: ['--bootstrap-token', 't', '--bootstrap-token-file', '/t', '--ca-hash', HASH], setting: '--bootstrap-token (EP_AGENT_BOOTSTRAP_TOKEN)', says: /not both/ },
    { name: 'a token without a CA to trust', argv: ['--bootstrap-token', 't'], setting: '--ca-hash (EP_AGENT_CA_HASH)', says: /--ca-hash .*--nats-ca/ },
    { name: 'the insecure switch given a value', argv: ['--insecure-nats=yes'], setting: 'flags', says: /insecure-nats/ },
    { name: 'the insecure switch not a boolean', env: { EP_AGENT_INSECURE_NATS: 'maybe' }, setting: 'EP_AGENT_INSECURE_NATS', says: /./ },
  ];
  for (const b of bad) {
    it(`refuses ${b.name}`, () => {
      const f = failure(b.argv ?? [], b.env ?? {});
      expect(f.setting).toBe(b.setting);
      expect(f.message).toMatch(b.says);
    });
  }

  it('never echoes a token in an error', () => {
    const secret = 'abc123.0123456789abcdef::eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig';
    const f = failure(['--bootstrap-token', secret]);
    expect(f.message).not.toContain('0123456789abcdef');
  });

  it('documents every identity setting in the help', () => {
    for (const flag of ['--bootstrap-token ', '--bootstrap-token-file', '--ca-hash', '--insecure-nats', 'EP_AGENT_BOOTSTRAP_TOKEN_FILE']) expect(usage()).toContain(flag);
  });
});
