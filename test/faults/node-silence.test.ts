// Invariant: a node whose agent is frozen (SIGSTOP) shows NotReady only after the grace period
// and its replicas move only after the eviction delay, while its KV entry stays as it was until
// it returns; when two thirds of the fleet freeze at once (full disruption) no replica moves and
// no KV revision is written.
//
// On the fault suite's layout (lib/topology.ts): agents dial the hub (three clustered
// nats-servers, R3 buckets); Redis runs behind Sentinel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Assignment, decode, GROUP, stores, VERSION } from '@edgeplane/api';
import { kubeConfig, repoRoot, startProcess, type ServerProcess } from '@edgeplane/env';
import { waitFor } from '../helpers/agent.ts';
import { agentNats } from '@edgeplane/env';
import { apiGet, applyDeployment, customObjects, detector, ensureNamespace, getDeployment, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-silence');
const kube = inject('kube');
const kc = kubeConfig(kube);
const HEARTBEAT_MS = 200;
const GRACE_MS = 1500;
const EVICTION_MS = 2000;
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-silence-'));
let topology: Topology;
let kv: KV;
let cp: ControlPlane;
const agents = new Map<string, ServerProcess>();
const stopped = new Set<string>();
const nodeName = (i: number) => `${run}-n${i}`;

async function startAgent(node: string): Promise<void> {
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const s = await agentNats(topology.hub, node);
  const proc = startProcess(node, process.execPath, ['--import', tsx, join(repoRoot, 'test', 'faults', 'helpers', 'agent-child.ts')], dir, {
    EP_TEST_NODE: node,
    EP_TEST_NATS_URL: s.natsUrl,
    EP_TEST_NATS_CREDS: s.natsCreds,
    EP_TEST_NATS_CA: s.natsCa,
    EP_TEST_LABELS: JSON.stringify({ 'edgeplane.io/test-run': run }),
  });
  agents.set(node, proc);
  await waitFor(`${node} said hello`, () => proc.tail().includes('ready') || (!proc.alive() && Promise.reject(new Error(proc.tail()))), 30_000, 100);
}

function signal(node: string, sig: 'SIGSTOP' | 'SIGCONT'): void {
  process.kill(agents.get(node)!.pid, sig);
  if (sig === 'SIGSTOP') stopped.add(node);
  else stopped.delete(node);
}

async function reachable(node: string): Promise<boolean> {
  const n = (await customObjects(kc).getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'edgenodes', name: node })) as { status?: { conditions?: { type: string; status: string }[] } };
  return n.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
}

/** Nodes of the placements as the control plane holds them now (read API, from Redis). */
async function placedNodes(): Promise<string[]> {
  const res = await apiGet(cp.address, `/api/v1/deployments/${run}/det`);
  if (!res.ok) throw new Error(`read API: HTTP ${res.status}`);
  return ((await res.json()) as { placements: { node: string }[] }).placements.map((p) => p.node).sort();
}

async function entry(node: string): Promise<{ revision: number; keys: string[] }> {
  const e = await kv.get(node);
  if (!e || e.operation !== 'PUT') return { revision: e?.revision ?? 0, keys: [] };
  const d = decode(Assignment, 'assignment', e.value);
  return { revision: e.revision, keys: d.ok ? d.value.workloads.map((w) => w.key) : [] };
}

async function kvLastSeq(): Promise<number> {
  return (await (await jetstreamManager(await topology.admin())).streams.info(`KV_${stores.assignments}`)).state.last_seq;
}

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  cp = await startControlPlane(
    testConfig({
      ...(await topology.controlPlane()),
      kubeconfigPath: kube.kubeconfigPath,
      run,
      heartbeatIntervalMs: HEARTBEAT_MS,
      nodeMonitorGracePeriodMs: GRACE_MS,
      evictionDelayMs: EVICTION_MS,
      fullDisruptionFraction: 0.55,
      fullDisruptionMinNodes: 3,
    }),
  );
  kv = await new Kvm(await topology.admin()).open(stores.assignments);
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  await Promise.all([1, 2, 3].map((i) => startAgent(nodeName(i))));
  await applyDeployment(kc, detector(run, 'det', 2, { placement: { maxPerNode: 1 } }));
  await waitFor('2/2 Ready', async () => (await getDeployment(kc, run, 'det')).status?.readyReplicas === 2, 20_000);
}, 120_000);

afterAll(async () => {
  // A stopped process cannot act on SIGTERM: thaw first.
  for (const node of stopped) process.kill(agents.get(node)!.pid, 'SIGCONT');
  await Promise.all([...agents.values()].map((p) => p.stop()));
  await cp?.stop();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node lifecycle with frozen agents', () => {
  it('NotReady only after the grace period, replicas moved only after the eviction delay, the entry kept until return', async () => {
    const before = await placedNodes();
    const victim = before[0]!;
    const held = await entry(victim);
    expect(held.keys).toEqual([`${run}/det`]);
    const t0 = Date.now();
    signal(victim, 'SIGSTOP');
    let notReadyAt: number | undefined;
    let movedAt: number | undefined;
    await waitFor(
      'replicas moved off the frozen node',
      async () => {
        if (notReadyAt === undefined && !(await reachable(victim))) notReadyAt = Date.now();
        const nodes = await placedNodes();
        if (nodes.length === 2 && !nodes.includes(victim)) movedAt = Date.now();
        return movedAt !== undefined;
      },
      15_000,
      50,
    );
    // Its last heartbeat may have left up to one interval before the freeze.
    expect(notReadyAt! - t0).toBeGreaterThanOrEqual(GRACE_MS - HEARTBEAT_MS);
    expect(movedAt! - t0).toBeGreaterThanOrEqual(GRACE_MS + EVICTION_MS - HEARTBEAT_MS);
    expect(movedAt!).toBeGreaterThanOrEqual(notReadyAt!);
    // Away, it keeps its entry (and so keeps serving what it has) while a replacement runs elsewhere.
    expect(await entry(victim)).toEqual(held);

    signal(victim, 'SIGCONT');
    await waitFor('Ready again', () => reachable(victim), 10_000);
    // Back: the replica that was replaced is removed from it.
    await waitFor('old replica removed on return', async () => (await entry(victim)).keys.length === 0, 10_000);
    expect(await placedNodes()).toHaveLength(2);
  });

  it('two thirds of the fleet frozen at once: NotReady, yet nothing moves and no KV revision is written', async () => {
    const placed = await placedNodes();
    expect(placed).toHaveLength(2);
    const seq = await kvLastSeq();
    for (const n of placed) signal(n, 'SIGSTOP');
    const sawNotReady = new Set<string>();
    const end = Date.now() + GRACE_MS + EVICTION_MS + 1500;
    while (Date.now() < end) {
      for (const n of placed) if (!(await reachable(n))) sawNotReady.add(n);
      expect(await placedNodes()).toEqual(placed);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([...sawNotReady].sort()).toEqual(placed);
    expect(await kvLastSeq()).toBe(seq);

    for (const n of placed) signal(n, 'SIGCONT');
    for (const n of placed) await waitFor(`${n} Ready again`, () => reachable(n), 10_000);
    expect(await placedNodes()).toEqual(placed);
    expect(await kvLastSeq()).toBe(seq);
  });
});
