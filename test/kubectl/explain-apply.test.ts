// A real kubectl (built from k8s.io/kubernetes) against a fresh API server with the CRDs:
// `kubectl explain` has a description for every field of both kinds, and
// `kubectl apply -f deploy/examples/` works with nothing created beforehand.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrds, repoRoot, startKube, type KubeServer } from '@edgeplane/env';
import { childDescriptions, ownDescription, recursiveFields } from './explain.ts';
import { kubectlFor, type Kubectl } from './kubectl.ts';

let kube: KubeServer;
let kubectl: Kubectl;

beforeAll(async () => {
  // Its own API server: "fresh" means no namespace or object any other test created.
  kube = await startKube();
  await installCrds(kube);
  kubectl = kubectlFor(kube.kubeconfigPath);
  // The API server publishes a new CRD's OpenAPI a moment after it is Established.
  for (let i = 0; ; i++) {
    const [emd, en] = await Promise.all([kubectl(['explain', 'emd']), kubectl(['explain', 'en'])]);
    if (emd.code === 0 && en.code === 0) break;
    if (i >= 60) throw new Error(`kubectl explain never found the CRDs: ${emd.stderr}${en.stderr}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
});

afterAll(async () => {
  await kube?.stop();
});

describe('kubectl explain', () => {
  for (const [kind, minFields] of [['edgemodeldeployments', 80], ['edgenodes', 35]] as const) {
    it(`describes every field of ${kind}`, async () => {
      const fields = recursiveFields(await kubectl.ok(['explain', kind, '--recursive']))
        // ObjectMeta is the API server's own type, documented by it.
        .filter((f) => f.path !== 'metadata' && !f.path.startsWith('metadata.'));
      expect(fields.length).toBeGreaterThanOrEqual(minFields);

      expect(ownDescription(await kubectl.ok(['explain', kind])), kind).not.toBe('');
      const parents = ['', ...fields.filter((f) => f.type === 'Object' || f.type === '[]Object').map((f) => f.path)];
      const missing: string[] = [];
      let seen = 0;
      for (const parent of parents) {
        const children = childDescriptions(await kubectl.ok(['explain', parent ? `${kind}.${parent}` : kind]));
        for (const [name, text] of children) {
          if (!parent && name === 'metadata') continue;
          seen++;
          if (text.length < 3) missing.push(parent ? `${parent}.${name}` : name);
        }
      }
      // Every field of the recursive listing was read with its description.
      expect(seen).toBe(fields.length);
      expect(missing).toEqual([]);
    });
  }

  it('shows the schema text for a nested field', async () => {
    const out = await kubectl.ok(['explain', 'emd.spec.tiering.battery.fp16BelowPercent']);
    expect(ownDescription(out)).toMatch(/battery percentage the precision is capped at fp16/);
  });
});

describe('kubectl apply -f deploy/examples/ on a fresh cluster', () => {
  it('creates the namespaces and every deployment', async () => {
    const out = await kubectl.ok(['apply', '-f', join(repoRoot, 'deploy', 'examples') + '/']);
    expect(out).toMatch(/namespace\/warehouse created/);
    expect(out).toMatch(/edgemodeldeployment\.edgeplane\.io\/ocr-line created/);
    const names = (await kubectl.ok(['get', 'emd', '-A', '-o', 'name'])).trim().split('\n').sort();
    expect(names).toEqual([
      'edgemodeldeployment.edgeplane.io/camera-defect',
      'edgemodeldeployment.edgeplane.io/ocr-line',
      'edgemodeldeployment.edgeplane.io/ocr-line-full',
      'edgemodeldeployment.edgeplane.io/ocr-line-rec',
      'edgemodeldeployment.edgeplane.io/vibration-anomaly',
    ]);
    // A second apply changes nothing: the examples are idempotent as written.
    expect(await kubectl.ok(['apply', '-f', join(repoRoot, 'deploy', 'examples') + '/'])).toMatch(/ocr-line unchanged/);
  });

  it('prints DEGRADED by default and UNPLACED with -o wide', async () => {
    const head = (await kubectl.ok(['get', 'emd', '-A'])).split('\n')[0]!;
    expect(head.split(/\s{2,}/)).toEqual(['NAMESPACE', 'NAME', 'MODEL', 'READY', 'TIERS', 'DEGRADED', 'AGE']);
    const wide = (await kubectl.ok(['get', 'emd', '-A', '-o', 'wide'])).split('\n')[0]!;
    expect(wide.split(/\s{2,}/)).toEqual(['NAMESPACE', 'NAME', 'MODEL', 'READY', 'TIERS', 'UNPLACED', 'DEGRADED', 'OBJECTIVE', 'ESCALATED', 'AGE']);
  });
});
