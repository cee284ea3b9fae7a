// `kubectl edgeplane`, run by a real kubectl that finds `kubectl-edgeplane` on PATH, against the
// test API server with the kubeconfig's credentials. The objects stand in for what the control
// plane writes (EdgeNode and deployment status), so each subcommand's output can be asserted.
import { join } from 'node:path';
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_VERSION, EMD_KIND, EMD_PLURAL, EN_KIND, EN_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfig, repoRoot } from '@edgeplane/env';
import { kubectlFor } from './kubectl.ts';

const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const kubectl = kubectlFor(kube.kubeconfigPath);
const env = { PATH: `${join(repoRoot, 'cli', 'bin')}:${process.env.PATH ?? ''}` };
const plugin = (args: string[]) => kubectl(['edgeplane', ...args], { env });
const ok = (args: string[]) => kubectl.ok(['edgeplane', ...args], { env });

const ns = 'kubectl-plugin';
const label = { 'edgeplane.io/test': 'kubectl-plugin' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const gpu = { id: 'gpu0', type: 'GPU', vendor: 'NVIDIA', model: 'Orin', memoryMiB: 8192, precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 5, fp16: 20, int8: 40 }, watts: 25 };
const cpu = { id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32', 'int8'], tops: { fp32: 0.5, int8: 2 } };

function conditions(ready: boolean) {
  const t = now();
  return [
    { type: 'Reachable', status: ready ? 'True' : 'False', reason: ready ? 'HeartbeatsArriving' : 'HeartbeatsMissed', message: '', lastTransitionTime: t },
    { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'AgentReady' : 'NodeUnreachable', message: '', lastTransitionTime: t },
  ];
}

async function upsertNode(name: string, labels: Record<string, string>, unschedulable: boolean, status: Record<string, unknown>): Promise<void> {
  const base = { group: GROUP, version: VERSION, plural: EN_PLURAL };
  await custom.deleteClusterCustomObject({ ...base, name }).catch(() => undefined);
  for (let i = 0; ; i++) {
    try {
      await custom.createClusterCustomObject({ ...base, body: { apiVersion: API_VERSION, kind: EN_KIND, metadata: { name, labels }, spec: { unschedulable } } });
      break;
    } catch (err) {
      // The delete above may still be finishing.
      if (!(err instanceof ApiException && err.code === 409) || i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await custom.patchClusterCustomObjectStatus({ ...base, name, body: { status } }, merge);
}

async function setPlacements(placements: unknown[]): Promise<void> {
  await custom.patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, plural: EMD_PLURAL, namespace: ns, name: 'kp-app', body: { status: { placements, replicas: placements.length, readyReplicas: placements.length, ready: `${placements.length}/1` } } },
    merge,
  );
}

const placement = { node: 'kp-gpu', accelerator: 'gpu0', variant: 'm-fp16', precision: 'fp16', profile: 'full', phase: 'Ready', reason: 'BestAccuracy', p99LatencyMs: 9.3 };

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } }).catch((err: unknown) => {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  });
  const common = { agentVersion: '0.1.0', host: { arch: 'arm64', cores: 8 }, network: { type: 'ethernet', bandwidthMbps: 900, rttMs: 2.5 }, lastHeartbeatTime: now() };
  await upsertNode('kp-gpu', label, false, {
    ...common,
    accelerators: [gpu, cpu],
    acceleratorSummary: 'GPU,CPU',
    power: { source: 'mains' },
    powerSummary: 'mains',
    conditions: conditions(true),
    utilization: [{ id: 'gpu0', utilization: 0.42, queue: 1 }, { id: 'cpu0', utilization: 0.05, queue: 0 }],
    workloads: [{ deployment: `${ns}/kp-app`, variant: 'm-fp16', accelerator: 'gpu0', phase: 'Ready', rps: 12.5, p99Ms: 9.3 }],
  });
  await upsertNode('kp-cpu', label, false, { ...common, accelerators: [cpu], acceleratorSummary: 'CPU', power: { source: 'battery', batteryPercent: 80 }, powerSummary: 'battery 80%', conditions: conditions(true) });
  await upsertNode('kp-down', label, false, { ...common, accelerators: [gpu], acceleratorSummary: 'GPU', conditions: conditions(false) });
  await upsertNode('kp-cordoned', label, true, { ...common, accelerators: [gpu], acceleratorSummary: 'GPU', conditions: conditions(true) });
  await upsertNode('kp-other', {}, false, { ...common, accelerators: [gpu], acceleratorSummary: 'GPU', conditions: conditions(true) });

  const base = { group: GROUP, version: VERSION, plural: EMD_PLURAL, namespace: ns };
  await custom.deleteNamespacedCustomObject({ ...base, name: 'kp-app' }).catch(() => undefined);
  const variant = (name: string, precision: string, accuracy: number) => ({
    name,
    precision,
    uri: `nats-obj://ep-models/${name}`,
    sha256: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a').slice(0, 64),
    sizeBytes: 1_000_000,
    accuracy,
    gflops: 1,
    memoryMiB: 100,
  });
  for (let i = 0; ; i++) {
    try {
      await custom.createNamespacedCustomObject({
        ...base,
        body: {
          apiVersion: API_VERSION,
          kind: EMD_KIND,
          metadata: { name: 'kp-app', namespace: ns },
          spec: {
            replicas: 1,
            model: { name: 'kp-model', task: 'classification', variants: [variant('m-fp16', 'fp16', 0.9), variant('m-int8', 'int8', 0.85)] },
            placement: { selector: { matchLabels: label } },
            slo: { latencyMs: 50 },
          },
        },
      });
      break;
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409) || i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await custom.patchNamespacedCustomObjectStatus(
    {
      ...base,
      name: 'kp-app',
      body: {
        status: {
          placements: [placement],
          replicas: 1,
          readyReplicas: 1,
          unplacedReplicas: 0,
          ready: '1/1',
          tiers: 'fp16:1',
          conditions: [{ type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'every replica is placed and none failed', lastTransitionTime: now() }],
        },
      },
    },
    merge,
  );
  // An Event about a node, as the control plane records them (cluster-scoped objects: default).
  await core.createNamespacedEvent({
    namespace: 'default',
    body: {
      metadata: { name: `kp-gpu.${Date.now().toString(16)}`, namespace: 'default' },
      involvedObject: { apiVersion: API_VERSION, kind: EN_KIND, name: 'kp-gpu' },
      reason: 'NodeReady',
      message: 'the agent is reachable and reported its accelerators',
      type: 'Normal',
      source: { component: 'edgeplane-control-plane' },
      firstTimestamp: new Date(),
      lastTimestamp: new Date(),
      count: 1,
    },
  });
});

const row = (out: string, name: string) => out.split('\n').find((l) => l.split(/\s+/)[0] === name) ?? '';
const rowIn = (out: string, name: string) => out.split('\n').find((l) => l.trim().split(/\s+/)[0] === name) ?? '';

// Each call starts kubectl and the plugin (Node, tsx, the Kubernetes client): seconds on a busy machine.
describe('kubectl edgeplane', { timeout: 180_000 }, () => {
  it('kubectl finds the plugin on PATH and its help exits 0', async () => {
    const list = await kubectl(['plugin', 'list'], { env });
    expect(list.stdout).toMatch(/kubectl-edgeplane/);
    const help = await plugin(['--help']);
    expect(help.code).toBe(0);
    for (const sub of ['get nodes', 'get deployments', 'describe node', 'top nodes', 'why emd/NAME', 'cordon', 'uncordon', 'drain']) expect(help.stdout).toContain(sub);
  });

  it('refuses an unknown command with exit 2 and a hint', async () => {
    const r = await plugin(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    expect((await plugin(['get', 'nodes', '-o', 'csv'])).stderr).toMatch(/--output must be one of wide, json, yaml/);
  });

  it('get nodes: status with SchedulingDisabled, accelerators, power, link, workloads', async () => {
    const out = await ok(['get', 'nodes']);
    expect(out.split('\n')[0]!.split(/\s{2,}/)).toEqual(['NAME', 'STATUS', 'ACCELERATORS', 'POWER', 'LINK', 'WORKLOADS', 'AGE']);
    expect(row(out, 'kp-gpu').split(/\s+/).slice(0, 6)).toEqual(['kp-gpu', 'Ready', 'GPU,CPU', 'mains', 'ethernet', '1']);
    expect(row(out, 'kp-cordoned')).toMatch(/Ready,SchedulingDisabled/);
    expect(row(out, 'kp-down')).toMatch(/NotReady/);
    const wide = await ok(['get', 'nodes', '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/AGENT\s+ARCH\s+BANDWIDTH\s+RTT\s+LAST-HEARTBEAT/);
    expect(row(wide, 'kp-gpu')).toMatch(/0\.1\.0\s+arm64\s+900Mbps\s+2\.5ms/);
    const json = JSON.parse(await ok(['get', 'nodes', '-o', 'json'])) as { kind: string; items: Array<{ metadata: { name: string } }> };
    expect(json.kind).toBe('List');
    expect(json.items.map((i) => i.metadata.name)).toEqual(expect.arrayContaining(['kp-gpu', 'kp-cpu']));
    expect(await ok(['get', 'nodes', '-o', 'yaml'])).toMatch(/name: kp-gpu/);
  });

  it('get deployments: the context namespace or -n, -A adds NAMESPACE, wide adds UNPLACED', async () => {
    const out = await ok(['get', 'deployments', '-n', ns]);
    expect(row(out, 'kp-app').split(/\s+/).slice(0, 5)).toEqual(['kp-app', 'kp-model', '1/1', 'fp16:1', 'AsExpected']);
    const all = await ok(['get', 'emd', '-A', '-o', 'wide']);
    expect(all.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+MODEL\s+READY\s+TIERS\s+DEGRADED\s+AGE\s+UNPLACED\s+OBJECTIVE\s+SLO-P99\s+NODES/);
    expect(row(all, ns)).toMatch(/kp-app.*\s0\s+accuracy\s+50ms\s+kp-gpu$/);
  });

  it('describe node: accelerators, power, link, workloads and events', async () => {
    const out = await ok(['describe', 'node', 'kp-gpu']);
    expect(out).toMatch(/^Name:\s+kp-gpu$/m);
    expect(out).toMatch(/edgeplane\.io\/test=kubectl-plugin/);
    expect(rowIn(out, 'gpu0')).toMatch(/gpu0\s+GPU\s+NVIDIA\s+Orin\s+8192Mi\s+fp32,fp16,int8\s+fp32:5,fp16:20,int8:40\s+25\s+42%/);
    expect(out).toMatch(/^ {2}Source:\s+mains$/m);
    expect(out).toMatch(/^ {2}Type:\s+ethernet$/m);
    expect(rowIn(out, `${ns}/kp-app`)).toMatch(/m-fp16\s+gpu0\s+Ready\s+12\.5\s+9\.3ms/);
    expect(out).toMatch(/Normal\s+NodeReady\s+\S+\s+edgeplane-control-plane\s+the agent is reachable/);
    const missing = await plugin(['describe', 'node', 'no-such-node']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/get edgenode no-such-node: .*not found/);
  });

  it('top nodes: utilisation, requests per second and p99 from EdgeNode status', async () => {
    const out = await ok(['top', 'nodes']);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+UTIL\s+RPS\s+P99\s+WORKLOADS\s+POWER\s+LINK$/);
    expect(row(out, 'kp-gpu')).toMatch(/^kp-gpu\s+42%\s+12\.5\s+9\.3ms\s+1\s+mains\s+ethernet$/);
    expect(row(out, 'kp-cpu')).toMatch(/^kp-cpu\s+<none>\s+0\s+<none>\s+0\s+battery 80%\s+ethernet$/);
    expect(row(await ok(['top', 'nodes', '-o', 'wide']), 'kp-gpu')).toMatch(/gpu0:42%,cpu0:5%\s+1$/);
    const json = JSON.parse(await ok(['top', 'nodes', '-o', 'json'])) as Array<{ name: string; rps: number; p99Ms: number }>;
    expect(json.find((n) => n.name === 'kp-gpu')).toMatchObject({ rps: 12.5, p99Ms: 9.3 });
  });

  it("why: the replica's node and tier, and each other node's plugin and reason", async () => {
    const out = await ok(['why', 'emd/kp-app', '-n', ns]);
    expect(out).toMatch(/^EdgeModelDeployment kubectl-plugin\/kp-app: 1\/1 replicas placed, 1 Ready, 0 unplaced; objective accuracy, SLO p99 50ms$/m);
    expect(rowIn(out, 'kp-gpu')).toMatch(/kp-gpu\s+gpu0\s+m-fp16\s+fp16\s+full\s+Ready\s+\S/);
    expect(rowIn(out, 'kp-cordoned')).toMatch(/Filtered\s+NodeUnschedulable\s+unschedulable$/);
    expect(rowIn(out, 'kp-down')).toMatch(/Filtered\s+NodeReady\s+not Ready$/);
    expect(rowIn(out, 'kp-other')).toMatch(/Filtered\s+NodeSelector\s+didn't match the node selector$/);
    // kp-gpu's accelerator is 42% busy, so the idle CPU node scores higher, but by less than the
    // keep threshold: the placed replica stays, and why says so.
    expect(rowIn(out, 'kp-cpu')).toMatch(
      /ScoredLower\s+Score\s+score [\d.]+ > [\d.]+, but a placed replica moves only when another node beats it by the keep threshold \(SloHeadroom \d+, Accuracy \d+, Load \d+, TopologySpread \d+; m-int8 on cpu0\)$/,
    );
    const json = JSON.parse(await ok(['why', `${ns}/kp-app`, '-o', 'json'])) as { otherNodes: Array<{ node: string; verdict: string; plugin?: string }> };
    expect(json.otherNodes.find((n) => n.node === 'kp-cordoned')).toMatchObject({ verdict: 'Filtered', plugin: 'NodeUnschedulable' });
    const missing = await plugin(['why', 'emd/nope', '-n', ns]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('cordon and uncordon set spec.unschedulable, as kubectl says it', async () => {
    expect(await ok(['cordon', 'kp-cpu'])).toBe('edgenode/kp-cpu cordoned\n');
    expect(await ok(['cordon', 'kp-cpu'])).toBe('edgenode/kp-cpu already cordoned\n');
    const node = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: 'kp-cpu' })) as { spec: { unschedulable: boolean } };
    expect(node.spec.unschedulable).toBe(true);
    expect(await ok(['uncordon', 'kp-cpu'])).toBe('edgenode/kp-cpu uncordoned\n');
  });

  it('drain cordons, names the replicas it waits for, and ends when status shows them moved', async () => {
    const timedOut = await plugin(['drain', 'kp-gpu', '--timeout', '1s']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stdout).toMatch(/edgenode\/kp-gpu cordoned\nevicting kubectl-plugin\/kp-app \(m-fp16 on gpu0\)/);
    expect(timedOut.stderr).toMatch(/1 replicas still placed after 1s/);

    expect(await ok(['uncordon', 'kp-gpu'])).toBe('edgenode/kp-gpu uncordoned\n');
    const drain = plugin(['drain', 'kp-gpu', '--timeout', '60s']);
    // What the control plane does on its next reconcile once the node is cordoned: the replica
    // leaves it. The drain lists what it waits for right after cordoning.
    const en = { group: GROUP, version: VERSION, plural: EN_PLURAL, name: 'kp-gpu' };
    for (let i = 0; i < 600; i++) {
      const n = (await custom.getClusterCustomObject(en)) as { spec: { unschedulable?: boolean } };
      if (n.spec.unschedulable) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2000));
    await setPlacements([{ ...placement, node: 'kp-cpu', accelerator: 'cpu0', variant: 'm-int8', precision: 'int8' }]);
    const r = await drain;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/edgenode\/kp-gpu cordoned\nevicting kubectl-plugin\/kp-app \(m-fp16 on gpu0\)\nedgenode\/kp-gpu drained\n$/);
  });
});
