import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfig, defaultNodeName, type AgentConfig } from './config.ts';

const run = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): AgentConfig => {
  const result = parseConfig({
    argv,
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

const failure = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) => {
  try {
    run(argv, env, files);
  } catch (err) {
    if (isConfigError(err)) return { setting: err.setting, message: err.message, code: err.code };
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('agent config', () => {
  it('defaults', () => {
    const c = run(['--node', 'edge-1']);
    expect(c).toMatchObject({ node: 'edge-1', natsUrl: 'nats://127.0.0.1:4222', root: '/', cacheMaxBytes: 10 * 2 ** 30, httpAddr: { host: '127.0.0.1', port: 8080 }, logLevel: 'info' });
    expect(c.natsCreds).toBeUndefined();
    // Loopback and no token by default; a wider bind is the operator's explicit choice.
    expect(c.httpTokenFile).toBeUndefined();
  });

  it('takes the local endpoint\'s token file by flag, environment or file', () => {
    expect(run(['--http-token-file', '/etc/ep/http-token']).httpTokenFile).toBe('/etc/ep/http-token');
    expect(run([], { EP_AGENT_HTTP_TOKEN_FILE: '/run/token' }).httpTokenFile).toBe('/run/token');
    expect(run(['-c', '/a.yaml'], {}, { '/a.yaml': 'httpTokenFile: /from/file\n' }).httpTokenFile).toBe('/from/file');
  });

  it('flags over environment over file', () => {
    const files = { '/etc/agent.yaml': 'node: from-file\nnatsUrl: nats://file:4222\nroot: /file-root\ncacheMaxBytes: 512MiB\n' };
    const c = run(['--config', '/etc/agent.yaml', '--node', 'from-flag'], { EP_AGENT_NATS_URL: 'nats://env:4222', EP_AGENT_NODE: 'from-env' }, files);
    expect(c).toMatchObject({ node: 'from-flag', natsUrl: 'nats://env:4222', root: '/file-root', cacheMaxBytes: 512 * 2 ** 20 });
    expect(run([], { EP_AGENT_CONFIG: '/etc/agent.yaml' }, files).node).toBe('from-file');
  });

  const errors = [
    { name: 'bad node name flag', argv: ['--node', 'Edge_1'], setting: '--node', message: /DNS label/ },
    { name: 'bad node name env', argv: [], env: { EP_AGENT_NODE: 'UPPER' }, setting: 'EP_AGENT_NODE', message: /DNS label/ },
    { name: 'bad NATS URL', argv: ['--nats-url', 'http://x'], setting: '--nats-url', message: /scheme nats/ },
    { name: 'bad size', argv: ['--cache-max', '10 parsecs'], setting: '--cache-max', message: /512MiB/ },
    { name: 'bad address', argv: ['--http-addr', 'localhost'], setting: '--http-addr', message: /host:port/ },
    { name: 'bad log level', argv: ['--log-level', 'loud'], setting: '--log-level', message: /info/ },
    { name: 'unknown flag', argv: ['--nods', 'x'], setting: 'flags', message: /nods/ },
    { name: 'bad value in file', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'linkProbeIntervalMs: 5' }, setting: 'config file /a.yaml: linkProbeIntervalMs', message: />=1000/ },
    { name: 'unknown key in file', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'nod: x' }, setting: 'config file /a.yaml: nod', message: /unknown setting/ },
    { name: 'missing file', argv: ['-c', '/none.yaml'], setting: 'config file /none.yaml', message: /ENOENT/ },
  ];
  for (const row of errors) {
    it(`error: ${row.name}`, () => {
      const err = failure(row.argv, row.env, row.files);
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.setting).toBe(row.setting);
      expect(err.message).toMatch(row.message);
    });
  }

  it('--help and --version', () => {
    const help = parseConfig({ argv: ['--help'] });
    expect(help.kind === 'help' && help.text).toMatch(/EP_AGENT_NATS_URL/);
    expect(parseConfig({ argv: ['--version'] }).kind).toBe('version');
  });

  it('default node name is a DNS label', () => {
    expect(defaultNodeName('Jetson_AGX.lab.example')).toBe('jetson-agx');
    expect(defaultNodeName('---')).toBe('edge-node');
  });
});

describe('agent config: limits and file roots', () => {
  it('defaults: file:// refused, 8 MiB requests, 2^24 elements', () => {
    expect(run(['--node', 'edge-1'])).toMatchObject({ fileRoots: [], maxRequestBytes: 8 * 2 ** 20, maxTensorElements: 2 ** 24 });
  });

  it('file roots from a flag, the environment, or a YAML list in the file; .. resolved', () => {
    expect(run(['--file-roots', '/models, /srv/m/../shared'], {}).fileRoots).toEqual(['/models', '/srv/shared']);
    expect(run([], { EP_AGENT_FILE_ROOTS: '/a,/b' }).fileRoots).toEqual(['/a', '/b']);
    expect(run(['-c', '/a.yaml'], {}, { '/a.yaml': 'fileRoots: [/var/lib/edgeplane/models, /opt/m]\n' }).fileRoots).toEqual(['/var/lib/edgeplane/models', '/opt/m']);
  });

  const errors = [
    { name: 'a relative file root', argv: ['--file-roots', 'models'], setting: '--file-roots', message: /absolute/ },
    { name: 'a request limit under 1 KiB', argv: ['--max-request', '10'], setting: '--max-request', message: />=1024/ },
    { name: 'a request limit over 1 GiB', argv: ['--max-request', '2GiB'], setting: '--max-request', message: /<=1073741824/ },
    { name: 'zero tensor elements', argv: ['--max-tensor-elements', '0'], setting: '--max-tensor-elements', message: />=1/ },
    { name: 'a nested list in the file', argv: ['-c', '/a.yaml'], files: { '/a.yaml': 'fileRoots: [[/a]]\n' }, setting: 'config file /a.yaml: fileRoots', message: /scalar/ },
  ];
  for (const row of errors) {
    it(`error: ${row.name}`, () => {
      const err = failure(row.argv, {}, row.files);
      expect(err.setting).toBe(row.setting);
      expect(err.message).toMatch(row.message);
    });
  }
});
