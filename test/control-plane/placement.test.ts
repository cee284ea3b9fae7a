// Five test agents against one control plane on the shared kube-apiserver, with its own
// nats-server and redis-server: placements reach KV and status, re-tier on battery and link,
// hold steady on an oscillating battery, and move off a node that goes silent.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EdgeModelDeployment } from '@edgeplane/api';
import { EventsV1Api } from '@kubernetes/client-node';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { controlPlaneNats } from '@edgeplane/env';
import { apiGet, applyDeployment, customObjects, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';

const run = runId('cp-place');
const kube = inject('kube');
const kc = kubeConfig(kube);
let nats: NatsServer;
let redis: RedisServer;
let cp: ControlPlane;
const agents: TestAgent[] = [];
const agent = (name: string) => agents.find((a) => a.node === name)!;
const nodeName = (i: number) => `${run}-n${i}`;

async function startAgent(i: number): Promise<TestAgent> {
  const a = await TestAgent.start({
    nats,
    node: nodeName(i),
    accelerators: [gpu()],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 1000 },
    labels: { 'edgeplane.io/test-run': run, 'topology.edgeplane.io/site': `site-${i}` },
    loadMs: 300,
  });
  agents.push(a);
  return a;
}

const statusOf = async (name: string) => (await getDeployment(kc, run, name)).status;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run }));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  await Promise.all([1, 2, 3, 4, 5].map(startAgent));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('control plane with five agents', () => {
  it('delivers assignments to every agent and reports Ready once the agents do', async () => {
    await applyDeployment(kc, detector(run, 'det', 5));
    for (const a of agents) await waitFor(`assignment of ${a.node}`, () => a.variantOf(`${run}/det`));
    // Mains and ethernet: the most accurate variant fits the SLO everywhere.
    expect(agents.map((a) => a.variantOf(`${run}/det`))).toEqual(Array(5).fill('det-fp32'));

    const status = await waitFor('5/5 ready', async () => {
      const s = await statusOf('det');
      return s?.readyReplicas === 5 ? s : undefined;
    });
    expect(status).toMatchObject({ replicas: 5, unplacedReplicas: 0, ready: '5/5', tiers: 'fp32:5', observedGeneration: 1, phaseCounts: { Ready: 5 } });
    expect(status.placements?.map((p) => p.node).sort()).toEqual(agents.map((a) => a.node).sort());
    const conditions = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toEqual({ Ready: 'True', Progressing: 'False', Degraded: 'False' });

    // The EdgeNodes exist with their status, and Events record the decision.
    const node = (await customObjects(kc).getClusterCustomObject({ group: 'edgeplane.io', version: 'v1alpha1', plural: 'edgenodes', name: nodeName(1) })) as {
      metadata: { labels: Record<string, string> };
      status: { acceleratorSummary: string; conditions: { type: string; status: string }[] };
    };
    expect(node.metadata.labels['topology.edgeplane.io/site']).toBe('site-1');
    expect(node.status.acceleratorSummary).toBe('GPU');
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: run });
    expect(events.items.some((e) => e.reason === 'Placed' && e.regarding?.name === 'det')).toBe(true);

    // The read API has every placement with live telemetry.
    const detail = (await (await apiGet(cp.address, `/api/v1/deployments/${run}/det`)).json()) as { placements: { phase: string; telemetry: { reachable: boolean } }[] };
    expect(detail.placements).toHaveLength(5);
    expect(detail.placements.every((p) => p.phase === 'Ready' && p.telemetry.reachable)).toBe(true);
    expect((await apiGet(cp.address, `/api/v1/deployments/${run}/nope`)).status).toBe(404);
  });

  it('switches a node to the int8 variant when its battery drops under the int8 threshold', async () => {
    const a = agent(nodeName(1));
    a.setPower({ source: 'battery', batteryPercent: 15, charging: false });
    await waitFor('int8 variant on n1', () => a.variantOf(`${run}/det`) === 'det-int8', 5000, 20);
    const s = await waitFor('status shows int8', async () => {
      const st = await statusOf('det');
      return st?.placements?.find((p) => p.node === a.node)?.precision === 'int8' ? st : undefined;
    });
    expect(s.tiers).toBe('fp32:4 int8:1');
  });

  it('switches a node to a lite variant when its link becomes cellular-4g', async () => {
    const a = agent(nodeName(2));
    a.setNetwork({ type: 'cellular-4g', bandwidthMbps: 20, metered: true });
    await waitFor('lite variant on n2', () => a.latest?.workloads.find((w) => w.key === `${run}/det`)?.variant.profile === 'lite', 5000, 20);
    expect(a.variantOf(`${run}/det`)).toBe('det-lite-fp16');
  });

  it('does not flap when a battery oscillates around a threshold', async () => {
    const a = agent(nodeName(3));
    a.setPower({ source: 'battery', batteryPercent: 48 });
    await waitFor('fp16 cap on n3', () => a.variantOf(`${run}/det`) === 'det-fp16', 5000, 20);
    const before = a.assignments.length;
    for (const pct of [52, 48, 51, 49, 52, 48, 52]) {
      a.setPower({ source: 'battery', batteryPercent: pct });
      // Two heartbeats per step, so every value reaches the control plane.
      await new Promise((r) => setTimeout(r, 450));
    }
    expect(a.variantOf(`${run}/det`)).toBe('det-fp16');
    expect(a.assignments.length).toBe(before);
  });

  it('marks a silent node unreachable and moves its replicas', async () => {
    await applyDeployment(kc, detector(run, 'cls', 2));
    const placed = await waitFor('cls placed', async () => {
      const s = await statusOf('cls');
      return s?.placements?.length === 2 ? s.placements.map((p) => p.node) : undefined;
    });
    const victim = agent(placed[0]!);
    victim.silence();
    await waitFor('node unreachable', async () => {
      const n = (await customObjects(kc).getClusterCustomObject({ group: 'edgeplane.io', version: 'v1alpha1', plural: 'edgenodes', name: victim.node })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return n.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'False';
    });
    const moved = await waitFor('cls moved off the silent node', async () => {
      const s = await statusOf('cls');
      const nodes = s?.placements?.map((p) => p.node) ?? [];
      return nodes.length === 2 && !nodes.includes(victim.node) && s?.readyReplicas === 2 ? s : undefined;
    });
    expect(moved.unplacedReplicas).toBe(0);
    // det has one replica per node at most: with a node gone, one replica has nowhere to go.
    const det = await waitFor('det degraded', async () => {
      const s: EdgeModelDeployment['status'] = await statusOf('det');
      return s?.unplacedReplicas === 1 ? s : undefined;
    });
    expect(det.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'Unschedulable' });
    expect(metricValue(await scrape(cp.address), 'edgeplane_unreachable_nodes')).toBe(1);

    // Back on the air: Reachable again and the replica returns.
    victim.resume();
    await waitFor('det fully placed again', async () => (await statusOf('det'))?.unplacedReplicas === 0);
  });
});
