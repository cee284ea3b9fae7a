// The agent's single executable, dist/edgeplane-agent, as the tests and benchmarks run it:
// rebuilt (`make agent-binary`) when missing or older than a source it is built from.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './crds.ts';

const run = promisify(execFile);
export const AGENT_BINARY = join(repoRoot, 'dist', 'edgeplane-agent');
/** The native runtime copied beside the binary; without it the binary cannot load a model. */
const ORT_BINDING = join(repoRoot, 'dist', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when the binary or its runtime is missing, or a source is newer than the binary. */
export function agentBinaryStale(): boolean {
  if (!existsSync(AGENT_BINARY) || !existsSync(ORT_BINDING)) return true;
  const sources = Math.max(
    ...['agent/src', 'agent/scripts', 'api/src', 'trust/src'].map((d) => newestMtime(join(repoRoot, d))),
    statSync(join(repoRoot, 'agent/package.json')).mtimeMs,
  );
  return sources > statSync(AGENT_BINARY).mtimeMs;
}

/** Builds the binary when stale; `log` hears when a build starts. */
export async function ensureAgentBinary(log: (line: string) => void = () => {}): Promise<void> {
  if (!agentBinaryStale()) return;
  log('  building dist/edgeplane-agent (make agent-binary)');
  await run('npm', ['run', '--silent', '-w', '@edgeplane/agent', 'build:binary'], {
    cwd: repoRoot,
    timeout: 300_000,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
}
