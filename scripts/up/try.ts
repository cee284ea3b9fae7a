// What `make up` tells a person to try from another terminal while it runs: where its cluster's
// kubeconfig is, the kubectl built for it and the kubectl plugin, and a few commands.
import { relative } from 'node:path';

export interface TryOptions {
  kubeconfigPath: string;
  /** Where build-servers.sh put kubectl. */
  binDir: string;
  /** Where `kubectl-edgeplane` is. */
  pluginDir: string;
  repoRoot: string;
  /** The deployment the run applied, `namespace/name`. */
  deployment: { namespace: string; name: string };
  /** Working directory of the person's shell, for the examples' path. */
  cwd?: string;
}

/** Shell lines, each runnable as printed (export lines first). */
export function tryLines(o: TryOptions): string[] {
  const examples = relative(o.cwd ?? o.repoRoot, `${o.repoRoot}/deploy/examples`) || '.';
  return [
    `export KUBECONFIG=${o.kubeconfigPath}`,
    `export PATH=${o.binDir}:${o.pluginDir}:$PATH`,
    'kubectl get emd -A -w',
    // Not the whole directory: ocr-line.yaml as written would replace the variants this run published.
    `kubectl apply -f ${examples}/00-namespaces.yaml -f ${examples}/vibration-anomaly.yaml`,
    'kubectl edgeplane top nodes',
    `kubectl edgeplane why emd/${o.deployment.name} -n ${o.deployment.namespace}`,
    'kubectl edgeplane describe node pi-handheld-1',
    'kubectl explain emd.spec.tiering',
  ];
}

export function tryText(o: TryOptions): string {
  const lines = tryLines(o);
  return ['From another terminal (the PATH line adds the kubectl built for this cluster and the kubectl edgeplane plugin):', ...lines.map((l) => `  ${l}`)].join('\n');
}
