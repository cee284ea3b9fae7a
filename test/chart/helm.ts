// Runs the helm binary built by @edgeplane/env against charts/edgeplane, with its own cache and
// config directories so no user or other test's helm state leaks in.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { goBinary, repoRoot } from '@edgeplane/env';

export const chartDir = join(repoRoot, 'charts', 'edgeplane');
export const ciValuesDir = join(chartDir, 'ci');
export const badValuesDir = join(repoRoot, 'test', 'chart', 'values');

/** The Kubernetes version `helm template` assumes: a source-built helm otherwise says v1.20. */
export const KUBE_VERSION = '1.33.0';

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

const helmHome = mkdtempSync(join(tmpdir(), 'ep-helm-'));

export function helm(args: readonly string[], timeoutMs = 60_000): Promise<HelmResult> {
  const bin = goBinary('helm');
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve) => {
    execFile(bin, [...args], { env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A Kubernetes object as rendered; only the fields the checks read are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  valuesFiles?: readonly string[];
  set?: readonly string[];
  namespace?: string;
  release?: string;
}

/** `helm template` into objects; throws with helm's stderr when rendering fails. */
export async function render(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const res = await helm(templateArgs(opts));
  if (res.code !== 0) throw new Error(`helm template failed (${res.code}): ${res.stderr}`);
  return parseObjects(res.stdout);
}

export function templateArgs({ valuesFiles = [], set = [], namespace = 'edgeplane', release = 'ep' }: RenderOptions): string[] {
  return [
    'template', release, chartDir,
    '--namespace', namespace,
    '--kube-version', KUBE_VERSION,
    ...valuesFiles.flatMap((f) => ['--values', f]),
    ...set.flatMap((s) => ['--set', s]),
  ];
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

export function findObject(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
