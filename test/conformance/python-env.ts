// The conformance clients' virtualenv (python-env.sh builds it once under the cache, keyed by
// the pinned versions): where it is and whether perf_analyzer runs here, or why there is none.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@edgeplane/env';

export interface PythonEnv {
  python: string;
  /** The perf_analyzer executable, or null with the reason in `perfAnalyzerMissing`. */
  perfAnalyzer: string | null;
  perfAnalyzerMissing: string;
}

export type PythonEnvResult = { ok: true; env: PythonEnv } | { ok: false; reason: string };

export const CLIENTS_DIR = join(repoRoot, 'test', 'conformance', 'clients');

/** Creates the venv when missing (minutes, once), else answers at once. */
export async function pythonEnv(): Promise<PythonEnvResult> {
  try {
    const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'test', 'conformance', 'python-env.sh')], { timeout: 15 * 60_000, maxBuffer: 16 * 2 ** 20 });
    const venv = stdout.trim().split('\n').at(-1)!;
    const marker = join(venv, '.perf-analyzer');
    const pa = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'not checked';
    const available = pa === 'available';
    return {
      ok: true,
      env: { python: join(venv, 'bin', 'python'), perfAnalyzer: available ? join(venv, 'bin', 'perf_analyzer') : null, perfAnalyzerMissing: available ? '' : pa },
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const reason = (e.stderr ?? '').trim().split('\n').at(-1) || e.message;
    return { ok: false, reason: `no Python client environment: ${reason}` };
  }
}

/** One line per check the script printed: {check, ok, detail}. */
export interface CheckLine {
  check: string;
  ok: boolean;
  detail: string;
}

export async function runChecks(python: string, script: string, args: string[]): Promise<{ checks: Map<string, CheckLine>; stderr: string }> {
  const result = await promisify(execFile)(python, [join(CLIENTS_DIR, script), ...args], { cwd: CLIENTS_DIR, timeout: 120_000, maxBuffer: 16 * 2 ** 20 }).catch(
    (err: { stdout?: string; stderr?: string; code?: number }) => {
      // Exit 1 means a check failed; its lines say which. Anything else without lines is a crash.
      if (err.stdout) return { stdout: err.stdout, stderr: err.stderr ?? '' };
      throw new Error(`${script} ${args.join(' ')} failed (exit ${err.code}): ${(err.stderr ?? '').slice(-3000)}`);
    },
  );
  const checks = new Map<string, CheckLine>();
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const c = JSON.parse(line) as CheckLine;
    checks.set(c.check, c);
  }
  return { checks, stderr: result.stderr };
}
