// The plain-gateway install (deploy/agent/): the install script lints clean and installs,
// upgrades and refuses bad tarballs under a scratch root; the systemd unit parses and is
// hardened; the example configuration is one the agent accepts.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, SETTINGS } from '../../agent/src/config.ts';
import { repoRoot } from '@edgeplane/env';

const agentDir = join(repoRoot, 'deploy', 'agent');
const script = join(agentDir, 'install.sh');
const unitFile = join(agentDir, 'edgeplane-agent.service');
const exampleConfig = join(agentDir, 'config.example.yaml');
const scratch = mkdtempSync(join(tmpdir(), 'ep-agent-install-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Writes `<file>.sha256` in sha256sum's format, as the build does. */
function withChecksum(file: string): string {
  writeFileSync(`${file}.sha256`, `${sha256(readFileSync(file))}  ${basename(file)}\n`);
  return file;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A tarball shaped like the one `make agent-binary` packs, with a stand-in binary and its checksum file. */
function fakeTarball(version: string, opts: { addon?: boolean; name?: string; checksum?: boolean } = {}): string {
  const dir = mkdtempSync(join(scratch, 'pkg-'));
  writeFileSync(join(dir, 'edgeplane-agent'), `#!/bin/sh\necho "edgeplane-agent ${version}"\n`);
  chmodSync(join(dir, 'edgeplane-agent'), 0o755);
  const members = ['edgeplane-agent'];
  if (opts.addon !== false) {
    const addonDir = join(dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    mkdirSync(addonDir, { recursive: true });
    writeFileSync(join(addonDir, 'onnxruntime_binding.node'), 'addon');
    members.push('node_modules');
  }
  const tarball = join(scratch, opts.name ?? `edgeplane-agent-${version}-linux-x64.tar.gz`);
  execFileSync('tar', ['-czf', tarball, '-C', dir, ...members]);
  rmSync(`${tarball}.sha256`, { force: true });
  return opts.checksum === false ? tarball : withChecksum(tarball);
}

function install(root: string, ...args: string[]) {
  const res = spawnSync('bash', [script, '--root', root, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}

/** `Key=value` lines of a unit file; a repeated key keeps its last value. */
function unitDirectives(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => /^[A-Z][A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );
}

describe('install.sh', () => {
  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', script], { encoding: 'utf8' }).status).toBe(0);
  });

  it('lints clean with shellcheck', (ctx) => {
    if (!onPath('shellcheck')) ctx.skip('shellcheck is not on PATH (make deps installs it): install.sh was not linted');
    const res = spawnSync('shellcheck', ['--severity=style', script], { encoding: 'utf8' });
    expect(res.stdout).toBe('');
    expect(res.status).toBe(0);
  });

  it('installs a version, the current link, the command, the unit and the config', () => {
    const root = join(scratch, 'fresh');
    const res = install(root, fakeTarball('1.2.3'));
    expect(res.out).toContain('done: edgeplane-agent 1.2.3');
    expect(res.code).toBe(0);
    const prefix = join(root, 'opt', 'edgeplane-agent');
    expect(readlinkSync(join(prefix, 'current'))).toBe('1.2.3');
    expect(lstatSync(join(prefix, '1.2.3', 'edgeplane-agent')).mode & 0o111).not.toBe(0);
    expect(existsSync(join(prefix, '1.2.3', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node'))).toBe(true);
    expect(readlinkSync(join(root, 'usr', 'local', 'bin', 'edgeplane-agent'))).toBe('/opt/edgeplane-agent/current/edgeplane-agent');
    expect(readFileSync(join(root, 'etc', 'edgeplane-agent', 'config.yaml'), 'utf8')).toBe(readFileSync(exampleConfig, 'utf8'));
    expect(readFileSync(join(root, 'etc', 'systemd', 'system', 'edgeplane-agent.service'), 'utf8')).toBe(readFileSync(unitFile, 'utf8'));
  });

  it('upgrades by swapping the link, keeps the edited config, and prunes beyond --keep', () => {
    const root = join(scratch, 'upgrade');
    const config = join(root, 'etc', 'edgeplane-agent', 'config.yaml');
    expect(install(root, fakeTarball('1.0.0')).code).toBe(0);
    writeFileSync(config, 'natsUrl: nats://site-leaf:4222\n');
    expect(install(root, fakeTarball('1.1.0')).code).toBe(0);
    const third = install(root, '--keep', '2', fakeTarball('1.2.0'));
    expect(third.code).toBe(0);
    expect(third.out).toContain('previous version 1.1.0 kept');
    const prefix = join(root, 'opt', 'edgeplane-agent');
    expect(readlinkSync(join(prefix, 'current'))).toBe('1.2.0');
    expect(existsSync(join(prefix, '1.1.0'))).toBe(true);
    expect(existsSync(join(prefix, '1.0.0'))).toBe(false);
    expect(readFileSync(config, 'utf8')).toBe('natsUrl: nats://site-leaf:4222\n');
  });

  it.each([
    { name: 'a tarball without the onnxruntime addon', make: () => fakeTarball('2.0.0', { addon: false }), says: 'onnxruntime_binding.node' },
    { name: 'a file name without version and platform', make: () => fakeTarball('2.0.0', { name: 'agent.tar.gz' }), says: 'expected edgeplane-agent-<version>-linux-<x64|arm64>.tar.gz' },
    { name: 'a file that is not a tarball', make: () => { const f = join(scratch, 'edgeplane-agent-2.0.0-linux-x64.tar.gz'); writeFileSync(f, 'not gzip'); return withChecksum(f); }, says: 'not a gzip tar archive' },
    {
      name: 'a tampered tarball (bytes changed after the checksum was published)',
      make: () => {
        const f = fakeTarball('2.0.0');
        const bytes = readFileSync(f);
        bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
        writeFileSync(f, bytes);
        return f;
      },
      says: 'checksum mismatch',
    },
    { name: 'a tarball without any checksum', make: () => fakeTarball('2.0.0', { checksum: false }), says: 'no checksum to verify it against' },
    {
      name: 'a tarball swapped for another whose checksum is listed under its own name',
      make: () => {
        const other = fakeTarball('9.9.9');
        const f = fakeTarball('2.0.0', { checksum: false });
        writeFileSync(`${f}.sha256`, readFileSync(`${other}.sha256`, 'utf8').replace(basename(other), basename(f)));
        return f;
      },
      says: 'checksum mismatch',
    },
  ])('refuses $name and leaves the installed version running', ({ make, says }) => {
    const root = join(scratch, `refuse-${Math.random().toString(16).slice(2)}`);
    expect(install(root, fakeTarball('1.0.0')).code).toBe(0);
    const res = install(root, make());
    expect(res.code).not.toBe(0);
    expect(res.out).toContain(says);
    expect(readlinkSync(join(root, 'opt', 'edgeplane-agent', 'current'))).toBe('1.0.0');
  });
});

describe('install.sh checksum', () => {
  it('verifies against --sha256, and refuses a wrong one', () => {
    const root = join(scratch, 'sha-flag');
    const tarball = fakeTarball('3.0.0', { checksum: false });
    const wrong = install(root, '--sha256', 'f'.repeat(64), tarball);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain('checksum mismatch');
    expect(existsSync(join(root, 'opt', 'edgeplane-agent', '3.0.0'))).toBe(false);
    const right = install(root, '--sha256', sha256(readFileSync(tarball)).toUpperCase(), tarball);
    expect(right.out).toContain('sha256 verified');
    expect(right.code).toBe(0);
  });

  it('finds the tarball in a SHA256SUMS beside it, or in --checksums', () => {
    const dir = mkdtempSync(join(scratch, 'sums-'));
    const tarball = join(dir, 'edgeplane-agent-3.1.0-linux-x64.tar.gz');
    execFileSync('cp', [fakeTarball('3.1.0', { checksum: false }), tarball]);
    const list = `${'a'.repeat(64)}  edgeplane-agent-3.0.9-linux-arm64.tar.gz\n${sha256(readFileSync(tarball))} *dist/${basename(tarball)}\n`;
    writeFileSync(join(dir, 'SHA256SUMS'), list);
    expect(install(join(scratch, 'sums-beside'), tarball).code).toBe(0);
    rmSync(join(dir, 'SHA256SUMS'));
    writeFileSync(join(scratch, 'published.sums'), list);
    expect(install(join(scratch, 'sums-flag'), '--checksums', join(scratch, 'published.sums'), tarball).code).toBe(0);
    writeFileSync(join(scratch, 'other.sums'), `${'a'.repeat(64)}  edgeplane-agent-3.0.9-linux-arm64.tar.gz\n`);
    const unlisted = install(join(scratch, 'sums-unlisted'), '--checksums', join(scratch, 'other.sums'), tarball);
    expect(unlisted.code).not.toBe(0);
    expect(unlisted.out).toContain('does not list edgeplane-agent-3.1.0-linux-x64.tar.gz');
  });

  it('installs without a checksum only with --insecure-skip-verify, and says so loudly', () => {
    const root = join(scratch, 'skip-verify');
    const res = install(root, '--insecure-skip-verify', fakeTarball('3.2.0', { checksum: false }));
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/WARNING: INSTALLING .* WITHOUT VERIFYING ITS CHECKSUM/);
  });
});

describe('edgeplane-agent.service', () => {
  const text = readFileSync(unitFile, 'utf8');
  const unit = unitDirectives(text);

  it('is hardened: own user, read-only system, no privileges, only its state and cache writable', () => {
    expect(unit.get('User')).toBe('edgeplane-agent');
    expect(unit.get('DynamicUser') ?? 'no').toBe('no');
    for (const [key, value] of [
      ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['NoNewPrivileges', 'yes'], ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''], ['StateDirectory', 'edgeplane-agent'], ['CacheDirectory', 'edgeplane-agent'],
      ['RestrictSUIDSGID', 'yes'], ['ProtectKernelModules', 'yes'], ['SystemCallFilter', '@system-service'],
    ] as const) expect(unit.get(key), key).toBe(value);
    // The agent's default state and cache directories are the ones systemd makes writable.
    const setting = (key: string) => SETTINGS.find((s) => s.key === key)?.fallback?.();
    expect(setting('stateDir')).toBe('/var/lib/edgeplane-agent');
    expect(setting('cacheDir')).toBe('/var/cache/edgeplane-agent');
  });

  it('starts the binary and config where install.sh puts them', () => {
    expect(unit.get('ExecStart')).toBe('/opt/edgeplane-agent/current/edgeplane-agent --config /etc/edgeplane-agent/config.yaml');
    expect(readFileSync(script, 'utf8')).toContain('etc="$root/etc/edgeplane-agent"');
  });

  it('parses without a warning from systemd-analyze', (ctx) => {
    if (!onPath('systemd-analyze')) ctx.skip('systemd-analyze is not on PATH: the unit file was not verified');
    const dir = mkdtempSync(join(scratch, 'unit-'));
    const verify = (body: string) => {
      // The real binary is not installed here; everything else is verified as written.
      writeFileSync(join(dir, 'edgeplane-agent.service'), body.replace(/^ExecStart=.*$/m, 'ExecStart=/bin/true'));
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'edgeplane-agent.service')], { encoding: 'utf8', timeout: 30_000 });
      return `${res.stdout}${res.stderr}`;
    };
    expect(verify(text)).toBe('');
    expect(verify(text.replace('ProtectSystem=strict', 'ProtectSistem=strict'))).toContain("Unknown key 'ProtectSistem'");
  });
});

describe('config.example.yaml', () => {
  const parse = (text: string) => {
    const file = join(mkdtempSync(join(scratch, 'cfg-')), 'config.yaml');
    writeFileSync(file, text);
    return parseConfig({ argv: ['--config', file], env: {} });
  };
  const text = readFileSync(exampleConfig, 'utf8');

  it('is accepted by the agent as it ships', () => {
    const result = parse(text);
    expect(result.kind).toBe('run');
    if (result.kind !== 'run') return;
    expect(result.config.bootstrapTokenFile).toBe('/etc/edgeplane-agent/bootstrap-token');
    expect(result.config.natsCreds).toBeUndefined();
    expect(result.config.cacheMaxBytes).toBe(10 * 2 ** 30);
  });

  it('documents every agent setting, and each commented one is accepted when uncommented', () => {
    for (const s of SETTINGS) expect(text, s.key).toMatch(new RegExp(`^(# )?${s.key}: `, 'm'));
    // The token given inline is the alternative to the token file: the agent refuses both.
    const alternatives = new Set(['bootstrapToken']);
    const keys = SETTINGS.map((s) => s.key).filter((k) => !alternatives.has(k));
    const uncommented = text.replace(new RegExp(`^# (${keys.join('|')}): `, 'gm'), '$1: ');
    const result = parse(uncommented);
    expect(result.kind).toBe('run');
    if (result.kind === 'run') expect(result.config.node).toBe('gateway-17');
  });
});
