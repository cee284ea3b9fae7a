// Invariant: an agent SIGKILLed in the middle of downloading an artifact resumes, once started
// again, from exactly the bytes it had on disk (it fetches only the rest), and what it then
// loads is the verified artifact, with no failure recorded against the variant.
//
// On the fault suite's layout (lib/topology.ts): the model store has three copies on a
// three-server NATS cluster, the agent dials one hub server through Toxiproxy (the download is
// slowed there), the control plane finds Redis through Sentinel.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { serveTag } from '@edgeplane/trust';
import { kubeConfig, startToxiproxy, type ToxiProxy, type ToxiproxyServer } from '@edgeplane/env';
import { waitFor } from '../helpers/agent.ts';
import { applyDeployment, ensureNamespace, getDeployment, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { classifierVariant, deployment, pushVariant, sha256, startAgentChild, type AgentChild } from './lib/failure-kit.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-kill-dl');
const kube = inject('kube');
const kc = kubeConfig(kube);
const HEARTBEAT_MS = 500;
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-kill-dl-'));
const node = `${run}-n1`;
const cacheDir = join(dir, 'cache');
const model = classifierVariant('cls-fp32', 0.95);
const partial = join(cacheDir, 'partial', `${model.sha256}.part`);
// Serving over NATS from the start: no credential renewal (this control plane signs none) to load.
const tags = [serveTag(run, 'cls')];
let topology: Topology;
let toxiproxy: ToxiproxyServer;
let proxy: ToxiProxy;
let cp: ControlPlane;
const agents: AgentChild[] = [];

const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

beforeAll(async () => {
  [topology, toxiproxy] = await Promise.all([startTopology(), startToxiproxy()]);
  proxy = await toxiproxy.proxy('nats', topology.cluster.servers[0]!.port);
  await ensureNamespace(kc, run);
  await pushVariant(await topology.models(), model);
  cp = await startControlPlane(
    testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, heartbeatIntervalMs: HEARTBEAT_MS, nodeMonitorGracePeriodMs: 20 * HEARTBEAT_MS, evictionDelayMs: 60_000 }),
  );
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.proc.stop(5000)));
  await cp?.stop();
  await Promise.all([topology?.stop(), toxiproxy?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent killed mid-download', () => {
  it('resumes from the bytes on disk and loads the verified artifact', async () => {
    onTestFailed(() => agents.forEach((a, i) => console.log(`--- agent run ${i + 1}\n${a.proc.tail(30)}`)));
    // Its NATS traffic goes through Toxiproxy, so the download can be slowed down to a crawl.
    const natsUrl = `tls://127.0.0.1:${proxy.port}`;
    agents.push(await startAgentChild({ nats: topology.hub, node, run, dir, cacheDir, natsUrl, logName: `${node}-1`, tags }));
    await proxy.addToxic({ type: 'bandwidth', attributes: { rate: 48 } }, { stream: 'downstream', name: 'slow' });
    await applyDeployment(kc, deployment(run, 'cls', [model]));

    await waitFor('part of the artifact on disk', () => sizeOf(partial) >= 96 * 1024, 30_000, 50);
    await agents[0]!.proc.kill('SIGKILL');
    const onDisk = sizeOf(partial);
    expect(onDisk).toBeGreaterThan(0);
    expect(onDisk).toBeLessThan(model.bytes.byteLength);

    // The restarted agent dials the server directly: taking the toxic off a link that still
    // holds the killed agent's buffered bytes can block inside Toxiproxy for seconds.
    agents.push(await startAgentChild({ nats: topology.hub, node, run, dir, cacheDir, natsUrl: topology.hub.url, logName: `${node}-2`, tags }));
    const fetched = await waitFor('the fetch after the restart', () => agents[1]!.logLines().find((l) => l.msg === 'artifact fetched and verified'), 30_000, 100);
    // Exactly the bytes it had: nothing fetched twice, nothing lost.
    expect(fetched.resumedFrom).toBe(onDisk);

    const placement = await waitFor('Ready', async () => (await getDeployment(kc, run, 'cls')).status?.placements?.find((p) => p.node === node && p.phase === 'Ready'), 30_000, 100);
    expect(placement.variant).toBe(model.name);
    // The cache holds the verified artifact under its digest, and no partial file.
    expect(sha256(readFileSync(join(cacheDir, 'blobs', model.sha256)))).toBe(model.sha256);
    expect(sizeOf(partial)).toBe(0);
    expect((await getDeployment(kc, run, 'cls')).status?.failures ?? []).toEqual([]);
  }, 60_000);
});
