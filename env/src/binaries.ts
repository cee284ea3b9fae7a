// Where the test environment finds its servers: Go-built ones in the version-keyed cache
// that build-servers.sh fills, Debian's redis-server on PATH.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cacheDir = process.env.EDGEPLANE_CACHE ?? join(homedir(), '.cache', 'edgeplane');
export const binDir = join(cacheDir, 'bin');
const buildScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'build-servers.sh');

export type GoServer = 'kube-apiserver' | 'kubectl' | 'etcd' | 'nats-server' | 'helm' | 'toxiproxy-server' | 'promtool' | 'cosign';

/** Path of a Go-built server, building it first when the cache does not have it. */
export function goBinary(name: GoServer): string {
  const path = join(binDir, name);
  if (!existsSync(path)) {
    // Cold cache: build now and show progress (a cold kube-apiserver build takes minutes).
    execFileSync('bash', [buildScript], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, only: name } });
  }
  return path;
}

export function redisBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, 'redis-server');
    if (dir && existsSync(path)) return path;
  }
  throw new Error('redis-server not found on PATH: run `make deps` (it installs Debian\'s redis-server)');
}

/** Versions of every server, as built or installed; for logs and closing notes. */
export function serverVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  const file = join(binDir, 'versions.json');
  if (existsSync(file)) Object.assign(versions, JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>);
  try {
    const out = execFileSync(redisBinary(), ['--version'], { encoding: 'utf8' });
    versions['redis-server'] = /v=(\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    // redis-server not installed yet
  }
  return versions;
}
