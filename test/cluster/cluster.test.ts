// The single-node cluster suites on one cluster: started once, the probe image and the product
// images imported once, then the pod checks (pod.ts), the chart (chart.ts: its own backends and
// release, uninstalled at its end) and the agent DaemonSet (agent.ts: backends and release in
// namespaces of their own), in that order, and the cluster stopped once. One cluster runs per
// machine (docs/cluster.md), and starting, importing and stopping one costs about a minute, so
// this is the cluster project's only test file. On a machine that cannot run a cluster the suites
// are skipped with the reason in their names; without `make images`, the checks that need them.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { clusterUnsupportedReason, ensureProbeImage, importProductImages, missingProductImages, startCluster } from '@edgeplane/env';
import { agentChecks } from './agent.ts';
import { chartChecks } from './chart.ts';
import { podChecks } from './pod.ts';
import type { SharedCluster } from './shared.ts';

const reason = clusterUnsupportedReason();
const missing = reason ? [] : missingProductImages();
const imagesReason = missing.length ? `${missing.join(', ')} not in dist/images (make images)` : null;
if (reason) console.warn(`[cluster] test/cluster skipped: ${reason}`);
else if (imagesReason) console.warn(`[cluster] image, chart and agent checks skipped: ${imagesReason}`);

describe.runIf(!reason)('one single-node cluster', () => {
  const shared = { images: null } as SharedCluster;

  beforeAll(async () => {
    const started = Date.now();
    shared.cluster = await startCluster({ log: (line) => console.log(`[cluster] ${line}`) });
    console.log(`[cluster] node Ready ${Date.now() - started} ms after start`);
    shared.cluster.importImage(ensureProbeImage());
    if (!imagesReason) {
      const t = Date.now();
      shared.images = importProductImages(shared.cluster);
      console.log(`[cluster] dist/images imported in ${Date.now() - t} ms`);
    }
  }, 900_000);

  afterAll(async () => {
    await shared.cluster?.stop();
  }, 180_000);

  describe('single-node cluster', () => podChecks(shared));

  describe.runIf(!imagesReason)('the chart on a single-node cluster', () => chartChecks(shared));

  describe.runIf(!imagesReason)('agent DaemonSet on the cluster', () => agentChecks(shared));

  if (imagesReason) {
    describe('the chart and the agent DaemonSet', () => {
      it.skip(`skipped: ${imagesReason}`, () => {});
    });
  }
});

if (reason) {
  describe('one single-node cluster', () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}
