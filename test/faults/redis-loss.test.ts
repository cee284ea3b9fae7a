// Invariant: losing Redis's data while every replica is Ready (the redis-server SIGKILLed and
// started again empty on the same port, FLUSHALL, or FLUSHALL while the control plane restarts)
// unloads nothing on any agent, marks no node unreachable, and writes no KV revision (a steady
// fleet without faults writes none); the read API has every placement again.
//
// On the fault suite's layout (lib/topology.ts): the control plane finds the Redis primary
// through Sentinel, and the faults hit that primary. FLUSHALL reaches its replica too. The
// sentinels here wait 60 s before calling a primary down (production's default is 30 s), so the
// primary killed and started again within seconds stays primary, and its replica resyncs from it
// empty: every copy of the data is gone, not failed over to (redis-sentinel-failover covers
// that). NATS is a three-server cluster with R3 buckets.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { GROUP, stores, VERSION } from '@edgeplane/api';
import { kubeConfig } from '@edgeplane/env';
import type { Redis } from 'ioredis';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { apiGet, applyDeployment, customObjects, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-redis');
const kube = inject('kube');
const kc = kubeConfig(kube);
// Ten heartbeats: on this 2-core machine, busy with the cluster's and Sentinel's processes, a 1 s
// grace once lapsed for all three nodes during the FLUSHALL case.
const GRACE_MS = 2000;
let topology: Topology;
let cp: ControlPlane;
let cpConfig: Parameters<typeof startControlPlane>[0];
const agents: TestAgent[] = [];
let admin: Redis;

/** What must not change: per node, how many assignments its agent received; the KV stream's last sequence. */
async function snapshot() {
  const jsm = await jetstreamManager(await topology.admin());
  const info = await jsm.streams.info(`KV_${stores.assignments}`);
  return { kvLastSeq: info.state.last_seq, received: agents.map((a) => a.assignments.length), workloads: agents.map((a) => a.latest?.workloads.map((w) => w.key).join(',')) };
}

/** Polls, for the given time, every EdgeNode's Reachable condition and the unreachable gauge. */
async function watchReachability(ms: number): Promise<{ unreachableSeen: string[]; gaugeMax: number }> {
  const unreachableSeen = new Set<string>();
  let gaugeMax = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const list = (await customObjects(kc).listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'edgenodes', labelSelector: `edgeplane.io/test-run=${run}` })) as {
      items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
    };
    for (const n of list.items) if (n.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'False') unreachableSeen.add(n.metadata.name);
    gaugeMax = Math.max(gaugeMax, metricValue(await scrape(cp.address), 'edgeplane_unreachable_nodes'));
    await new Promise((r) => setTimeout(r, 100));
  }
  return { unreachableSeen: [...unreachableSeen], gaugeMax };
}

async function placementsInApi(): Promise<number> {
  const res = await apiGet(cp.address, `/api/v1/deployments/${run}/det`);
  if (!res.ok) return -1;
  return ((await res.json()) as { placements: unknown[] }).placements.length;
}

beforeAll(async () => {
  topology = await startTopology({ redis: { downAfterMs: 60_000 } });
  admin = await topology.redisClient();
  await ensureNamespace(kc, run);
  cpConfig = testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, nodeMonitorGracePeriodMs: GRACE_MS, evictionDelayMs: 0 });
  cp = await startControlPlane(cpConfig);
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  for (const i of [1, 2, 3]) {
    agents.push(
      await TestAgent.start({
        nats: topology.hub,
        node: `${run}-n${i}`,
        accelerators: [gpu()],
        power: { source: 'mains' },
        network: { type: 'ethernet', bandwidthMbps: 1000 },
        labels: { 'edgeplane.io/test-run': run },
        loadMs: 100,
      }),
    );
  }
  await applyDeployment(kc, detector(run, 'det', 3, { placement: { maxPerNode: 1 } }));
  await waitFor('3/3 Ready', async () => (await getDeployment(kc, run, 'det')).status?.readyReplicas === 3, 20_000);
  // Settled: the last status writes and heartbeats are in.
  await new Promise((r) => setTimeout(r, 1000));
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await topology?.stop();
});

describe('Redis loses its data while every replica is Ready', () => {
  it('FLUSHALL: nothing unloaded, no node unreachable, no KV write; placements and telemetry rebuilt', async () => {
    const before = await snapshot();
    const asked = agents.map((a) => a.fullHeartbeatRequests);
    await admin.flushall();
    // Three grace periods: long enough for a stale-record rule to have marked every node.
    const seen = await watchReachability(3 * GRACE_MS);
    expect(seen).toEqual({ unreachableSeen: [], gaugeMax: 0 });
    expect(await snapshot()).toEqual(before);
    // Redis is a cache: the read API lists every placement again.
    expect(await waitFor('placements back in Redis', async () => ((await placementsInApi()) === 3 ? 3 : undefined), 5000)).toBe(3);
    // Every agent was asked for a full heartbeat, so power, link and workloads are back now.
    expect(agents.map((a, i) => a.fullHeartbeatRequests > asked[i]!)).toEqual([true, true, true]);
    for (const a of agents) expect(await admin.hget(`ep:node:${a.node}`, 'power')).toBeTruthy();
    expect((await getDeployment(kc, run, 'det')).status?.readyReplicas).toBe(3);
  });

  it('redis-server SIGKILLed and started again empty: nothing unloaded, no node unreachable, no KV write', async () => {
    const before = await snapshot();
    const asked = agents.map((a) => a.fullHeartbeatRequests);
    const primary = topology.redis.servers[0]!;
    expect(await topology.redis.primary()).toEqual({ host: primary.host, port: primary.port });
    primary.process().kill('SIGKILL');
    await waitFor('redis-server gone', () => !primary.process().alive(), 5000, 20);
    // Down for two grace periods: the control plane hears nothing meanwhile, which is its own fault.
    const down = watchReachability(2 * GRACE_MS);
    const seenDown = await down;
    await primary.restart();
    // Still the primary (no failover), so what the control plane finds is empty.
    expect(await topology.redis.primary()).toEqual({ host: primary.host, port: primary.port });
    const seenAfter = await watchReachability(3 * GRACE_MS);
    expect({ down: seenDown, after: seenAfter }).toEqual({ down: { unreachableSeen: [], gaugeMax: 0 }, after: { unreachableSeen: [], gaugeMax: 0 } });
    expect(await snapshot()).toEqual(before);
    expect(await waitFor('placements back in Redis', async () => ((await placementsInApi()) === 3 ? 3 : undefined), 5000)).toBe(3);
    expect(agents.map((a, i) => a.fullHeartbeatRequests > asked[i]!)).toEqual([true, true, true]);
    expect((await getDeployment(kc, run, 'det')).status?.readyReplicas).toBe(3);
  });

  it('FLUSHALL while the control plane restarts: the new leader rebuilds placements from KV and status; nothing moves', async () => {
    // A tier held by hysteresis only: battery 52 % keeps fp16 because it was capped below 50 %.
    // Planned from nothing, it would go back to fp32 (a KV write); rebuilt, it holds.
    const a = agents[0]!;
    a.setPower({ source: 'battery', batteryPercent: 45, charging: false });
    // One heartbeat, a reconcile and the agent's read of its KV entry: about 0.2 s. This wait once
    // ran out under load because the test agent read a lagging replica of the R3 bucket and never
    // read again; it now re-reads as the agent does (test/helpers/agent.ts), 1.5 s at most.
    await waitFor('fp16 under the battery cap', () => a.variantOf(`${run}/det`) === 'det-fp16', 5000, 20);
    a.setPower({ source: 'battery', batteryPercent: 52, charging: false });
    await new Promise((r) => setTimeout(r, 1000));
    expect(a.variantOf(`${run}/det`)).toBe('det-fp16');
    await waitFor('3/3 Ready', async () => (await getDeployment(kc, run, 'det')).status?.readyReplicas === 3, 10_000);
    const before = await snapshot();
    await cp.stop();
    await admin.flushall();
    cp = await startControlPlane({ ...cpConfig, identity: `${cpConfig.identity}-2`, apiAddr: { host: '127.0.0.1', port: 0 } });
    await waitReady(cp.address);
    await waitFor('leadership', () => cp.isLeader());
    const seen = await watchReachability(3 * GRACE_MS);
    expect(seen).toEqual({ unreachableSeen: [], gaugeMax: 0 });
    expect(await snapshot()).toEqual(before);
    expect(await placementsInApi()).toBe(3);
    expect((await getDeployment(kc, run, 'det')).status?.readyReplicas).toBe(3);
  });
});
