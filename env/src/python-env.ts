// The Python clients' virtualenv (env/python/python-env.sh builds it once under the cache, keyed
// by the pinned versions: Triton's client, the KServe SDK, perf_analyzer), for the conformance
// suite and the serving benchmark: where it is and whether perf_analyzer runs here, or why not.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './crds.ts';

export interface PythonEnv {
  python: string;
  /** The perf_analyzer executable, or null with the reason in `perfAnalyzerMissing`. */
  perfAnalyzer: string | null;
  perfAnalyzerMissing: string;
}

export type PythonEnvResult = { ok: true; env: PythonEnv } | { ok: false; reason: string };

/** KServe's Python model server running a model with onnxruntime: the peer `bench serving` measures against. */
export const KSERVE_SERVER = join(repoRoot, 'env', 'python', 'kserve_server.py');

/** Creates the venv when missing (minutes, once), else answers at once. */
export async function pythonEnv(): Promise<PythonEnvResult> {
  try {
    const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'env', 'python', 'python-env.sh')], { timeout: 15 * 60_000, maxBuffer: 16 * 2 ** 20 });
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
