// Invariant: after the NATS servers lose their JetStream data (store directories wiped, servers
// restarted), every node's assignment entry is back in KV, holding every replica, after the
// first level-based sync pass that completes once JetStream answers again; nodes then run it.
//
// On the fault suite's layout (lib/topology.ts): all three hub servers are stopped with a
// signal, their stores removed, and started again; the control plane creates the bucket again
// with three copies (--kv-replicas 3). Redis runs behind Sentinel; agents are simulated nodes
// reading KV as agents do, on the hub.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { Assignment, decode, stores } from '@edgeplane/api';
import { kubeConfig } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { applyDeployment, detector, ensureNamespace, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const RESYNC_MS = 1500;
const run = runId('fault-jswipe');
const kube = inject('kube');
const kc = kubeConfig(kube);
let topology: Topology;
let cp: ControlPlane;
let admin: NatsConnection;
const agents: TestAgent[] = [];

/** Workload keys and variants of each node's entry; null when the key or the bucket is missing. */
async function entries(): Promise<Record<string, string[] | null>> {
  const out: Record<string, string[] | null> = {};
  const kv = await new Kvm(admin).open(stores.assignments).catch(() => null);
  for (const a of agents) {
    const e = kv ? await kv.get(a.node).catch(() => null) : null;
    const d = e?.operation === 'PUT' ? decode(Assignment, 'assignment', e.value) : null;
    out[a.node] = d?.ok ? d.value.workloads.map((w) => `${w.key}:${w.variant.name}@${w.accelerator}`) : null;
  }
  return out;
}

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  cp = await startControlPlane(
    testConfig({
      ...(await topology.controlPlane()),
      kubeconfigPath: kube.kubeconfigPath,
      run,
      resyncMs: RESYNC_MS,
      // As in production, a node silent for a moment (the servers restarting) is not NotReady.
      nodeMonitorGracePeriodMs: 20_000,
    }),
  );
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  admin = await topology.admin();
  for (const i of [1, 2, 3]) {
    agents.push(await TestAgent.start({ nats: topology.hub, node: `${run}-n${i}`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet', bandwidthMbps: 1000 }, labels: { 'edgeplane.io/test-run': run } }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await topology?.stop();
});

describe('JetStream data wiped', () => {
  it('KV is rebuilt by one sync pass and the nodes run it', async () => {
    await applyDeployment(kc, detector(run, 'det', 3));
    await applyDeployment(kc, detector(run, 'seg', 2));
    // Every replica in some node's entry (placements may move while nodes reconnect, so the
    // entries are compared with the deployments, not with their earlier selves).
    const complete = (e: Record<string, string[] | null>) => {
      const all = Object.values(e).flatMap((v) => v ?? []);
      const count = (d: string) => new Set(Object.entries(e).filter(([, v]) => v?.some((w) => w.startsWith(`${run}/${d}:`))).map(([n]) => n)).size;
      return Object.values(e).every((v) => v !== null) && count('det') === 3 && count('seg') === 2 && all.length === 5;
    };
    await waitFor('both deployments in KV', async () => {
      const e = await entries();
      return complete(e) ? e : undefined;
    });

    const { cluster } = topology;
    await cluster.hub.pause();
    for (const server of cluster.servers) {
      for (const f of readdirSync(server.storeDir!)) rmSync(join(server.storeDir!, f), { recursive: true, force: true });
    }
    await Promise.all(cluster.servers.map((s) => s.start()));
    // The clock starts when JetStream answers again: a meta leader elected among the three.
    await cluster.waitForJetStream();
    await waitFor('JetStream answering', () => jetstreamManager(admin, { timeout: 500 }).then(() => true, () => false), 15_000, 50);
    const restarted = Date.now();
    const passes = async () => {
      const m = await scrape(cp.address);
      return metricValue(m, 'edgeplane_assignment_syncs_total', { outcome: 'repaired' }) + metricValue(m, 'edgeplane_assignment_syncs_total', { outcome: 'clean' });
    };
    const passesBefore = await passes();

    // The first pass that completes after JetStream answers rebuilds everything.
    await waitFor('a sync pass', async () => (await passes()) > passesBefore, 15_000, 50);
    const rebuiltMs = Date.now() - restarted;
    const rebuilt = await entries();
    expect(complete(rebuilt), JSON.stringify(rebuilt)).toBe(true);
    // Created again as it was: three copies.
    expect((await (await jetstreamManager(admin)).streams.info(`KV_${stores.assignments}`)).config.num_replicas).toBe(3);
    // And each node runs what its rebuilt entry says.
    await waitFor('nodes agree with their entries', async () => {
      const e = await entries();
      return agents.every((a) => JSON.stringify(a.latest?.workloads.map((w) => `${w.key}:${w.variant.name}@${w.accelerator}`) ?? []) === JSON.stringify(e[a.node]));
    });
    console.info(`[faults] JetStream wiped: KV rebuilt ${rebuiltMs} ms after the restart (resync ${RESYNC_MS} ms)`);
  });
});
