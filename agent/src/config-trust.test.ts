import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfig, usage, type TrustConfig } from './config.ts';

const trustOf = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): TrustConfig => {
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
  return result.config.trust;
};

const failure = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) => {
  try {
    trustOf(argv, env, files);
  } catch (err) {
    if (isConfigError(err)) return { setting: err.setting, message: err.message };
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('agent trust settings', () => {
  it('requires nothing and trusts no key by default', () => {
    expect(trustOf([])).toEqual({ requireSignature: false, publicKeys: [] });
  });

  it('takes repeated flags, a comma-separated variable, or a trust mapping in the file; flags win', () => {
    const files = { '/a.yaml': 'trust:\n  requireSignature: true\n  publicKeys: [/etc/ep/a.pub, /etc/ep/b.pub]\n' };
    expect(trustOf(['--require-signature', '--trust-public-key', '/k1.pub', '--trust-public-key', '/k2.pub'])).toEqual({ requireSignature: true, publicKeys: ['/k1.pub', '/k2.pub'] });
    expect(trustOf([], { EP_AGENT_TRUST_PUBLIC_KEYS: '/k1.pub, /k2.pub', EP_AGENT_REQUIRE_SIGNATURE: 'true' })).toEqual({ requireSignature: true, publicKeys: ['/k1.pub', '/k2.pub'] });
    expect(trustOf(['-c', '/a.yaml'], {}, files)).toEqual({ requireSignature: true, publicKeys: ['/etc/ep/a.pub', '/etc/ep/b.pub'] });
    expect(trustOf(['-c', '/a.yaml', '--trust-public-key', '/flag.pub'], { EP_AGENT_TRUST_PUBLIC_KEYS: '/env.pub' }, files).publicKeys).toEqual(['/flag.pub']);
    expect(trustOf(['-c', '/a.yaml'], { EP_AGENT_TRUST_PUBLIC_KEYS: '/env.pub', EP_AGENT_REQUIRE_SIGNATURE: 'false' }, files)).toEqual({ requireSignature: false, publicKeys: ['/env.pub'] });
  });

  const rows: Array<{ name: string; argv: string[]; env?: Record<string, string>; files?: Record<string, string>; setting: string; message: RegExp }> = [
    { name: 'signatures required with no key', argv: ['--require-signature'], setting: '--require-signature', message: /no key is trusted/ },
    { name: 'required in the file with no key', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'trust: { requireSignature: true }\n' }, setting: '--require-signature', message: /no key is trusted/ },
    { name: 'a switch that is not a boolean', argv: [], env: { EP_AGENT_REQUIRE_SIGNATURE: 'maybe' }, setting: 'EP_AGENT_REQUIRE_SIGNATURE', message: /true or false/ },
    { name: 'a scalar trust in the file', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'trust: yes\n' }, setting: 'config file /a.yaml: trust', message: /object/ },
    { name: 'an unknown trust field', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'trust: { keys: [/a.pub] }\n' }, setting: 'config file /a.yaml: trust', message: /keys/ },
    { name: 'publicKeys that are not a list', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'trust: { publicKeys: /a.pub }\n' }, setting: 'config file /a.yaml: trust.publicKeys', message: /array/ },
    { name: 'requireSignature as a string', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'trust: { requireSignature: "on", publicKeys: [/a.pub] }\n' }, setting: 'config file /a.yaml: trust.requireSignature', message: /boolean/ },
    { name: 'too many keys', argv: [], env: { EP_AGENT_TRUST_PUBLIC_KEYS: Array.from({ length: 65 }, (_, i) => `/k${i}.pub`).join(',') }, setting: 'EP_AGENT_TRUST_PUBLIC_KEYS', message: /at most 64/ },
  ];
  for (const r of rows) {
    it(`error: ${r.name}`, () => {
      const f = failure(r.argv, r.env, r.files);
      expect(f.setting).toBe(r.setting);
      expect(f.message).toMatch(r.message);
    });
  }

  it('documents both settings in --help', () => {
    expect(usage()).toMatch(/--trust-public-key\s+EP_AGENT_TRUST_PUBLIC_KEYS/);
    expect(usage()).toMatch(/--require-signature\s+EP_AGENT_REQUIRE_SIGNATURE/);
  });
});
