import { describe, expect, it } from 'vitest';
import { tryLines, tryText } from './try.ts';

describe('make up: commands to try', () => {
  const o = {
    kubeconfigPath: '/tmp/ep-kube-x/kubeconfig',
    binDir: '/home/u/.cache/edgeplane/bin',
    pluginDir: '/repo/cli/bin',
    repoRoot: '/repo',
    deployment: { namespace: 'warehouse', name: 'ocr-line' },
  };

  it('starts with the exports a shell needs, then the commands', () => {
    const lines = tryLines(o);
    expect(lines.slice(0, 2)).toEqual(['export KUBECONFIG=/tmp/ep-kube-x/kubeconfig', 'export PATH=/home/u/.cache/edgeplane/bin:/repo/cli/bin:$PATH']);
    expect(lines).toContain('kubectl get emd -A -w');
    expect(lines).toContain('kubectl apply -f deploy/examples/00-namespaces.yaml -f deploy/examples/vibration-anomaly.yaml');
    expect(lines).toContain('kubectl edgeplane top nodes');
    expect(lines).toContain('kubectl edgeplane why emd/ocr-line -n warehouse');
  });

  it("gives the examples' path from the shell's directory", () => {
    expect(tryLines({ ...o, cwd: '/repo/scripts' })).toContain('kubectl apply -f ../deploy/examples/00-namespaces.yaml -f ../deploy/examples/vibration-anomaly.yaml');
  });

  it('indents each command under one heading', () => {
    expect(tryText(o).split('\n').slice(1).every((l) => l.startsWith('  '))).toBe(true);
  });
});
