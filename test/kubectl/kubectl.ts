// Runs the kubectl built from k8s.io/kubernetes (env/build-servers.sh) against a test API server.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBinary } from '@edgeplane/env';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Kubectl {
  (args: string[], options?: { env?: Record<string, string>; input?: string }): Promise<KubectlResult>;
  /** Like the call itself, but throws unless kubectl exits 0. */
  ok(args: string[], options?: { env?: Record<string, string> }): Promise<string>;
}

/** A kubectl bound to one kubeconfig, with its own discovery and OpenAPI cache. */
export function kubectlFor(kubeconfigPath: string): Kubectl {
  const bin = goBinary('kubectl');
  const cacheDir = mkdtempSync(join(tmpdir(), 'ep-kubectl-cache-'));
  const run = (args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<KubectlResult> =>
    new Promise((resolve) => {
      const child = execFile(
        bin,
        args,
        // KUBECACHEDIR, not --cache-dir: kubectl refuses flags before a plugin's name.
        { env: { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: cacheDir, ...options.env }, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  const kubectl = run as Kubectl;
  kubectl.ok = async (args, options) => {
    const r = await run(args, options);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  return kubectl;
}
