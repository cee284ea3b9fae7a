// Runs one of the conformance check scripts (clients/*.py) in the Python clients' virtualenv and
// reads the one JSON line per check it prints.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@edgeplane/env';

export const CLIENTS_DIR = join(repoRoot, 'test', 'conformance', 'clients');

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
