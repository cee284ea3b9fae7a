// Images as the tests and the test cluster use them: rebuilt (`make images`, with the agent
// and control-plane executables first) when missing or older than anything they are made of.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureAgentBinary } from '@edgeplane/env';
import { readBuiltImages, repoRoot, type BuiltImage } from './build.ts';

const run = promisify(execFile);
export const IMAGES_DIR = join(repoRoot, 'dist', 'images');
const CONTROL_PLANE_BINARY = join(repoRoot, 'dist', 'edgeplane-control-plane');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const mtime = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : 0);

export function controlPlaneBinaryStale(): boolean {
  const sources = Math.max(...['control-plane/src', 'control-plane/scripts', 'control-plane/package.json', 'agent/scripts/sea.ts', 'api/src', 'trust/src'].map((p) => newestMtime(join(repoRoot, p))));
  return !existsSync(CONTROL_PLANE_BINARY) || sources > mtime(CONTROL_PLANE_BINARY);
}

export function imagesStale(): boolean {
  const summary = join(IMAGES_DIR, 'images.json');
  if (!existsSync(summary)) return true;
  const nats = join(process.env.EDGEPLANE_CACHE ?? join(homedir(), '.cache', 'edgeplane'), 'bin', 'nats-server');
  const inputs = [
    newestMtime(join(repoRoot, 'images', 'src')),
    mtime(CONTROL_PLANE_BINARY),
    mtime(join(repoRoot, 'dist', 'edgeplane-agent')),
    existsSync(nats) ? mtime(realpathSync(nats)) : 0,
  ];
  return Math.max(...inputs) > mtime(summary) || readBuiltImages(IMAGES_DIR).length < 4;
}

const buildEnv = () => ({ ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' });

/** Builds what is stale; `log` hears each build that starts. Returns images.json's entries. */
export async function ensureImages(log: (line: string) => void = () => {}): Promise<BuiltImage[]> {
  await ensureAgentBinary(log);
  if (controlPlaneBinaryStale()) {
    log('  building dist/edgeplane-control-plane (make control-plane-binary)');
    await run('npm', ['run', '--silent', '-w', '@edgeplane/control-plane', 'build:binary'], { cwd: repoRoot, timeout: 300_000, env: buildEnv() });
  }
  if (imagesStale()) {
    log('  building dist/images (make images)');
    await run(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'images', 'src', 'build.ts')], { cwd: repoRoot, timeout: 900_000, env: buildEnv(), maxBuffer: 16 * 2 ** 20 });
  }
  return readBuiltImages(IMAGES_DIR);
}
