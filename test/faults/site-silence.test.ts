// Invariant: when every node of one site (label topology.kubernetes.io/zone) goes silent at
// once while the rest of the fleet heartbeats, the site is in full disruption: its nodes show
// NotReady, yet none of its replicas moves and no KV revision is written, even past the grace
// period plus the eviction delay; a node silent alone in a healthy site still loses its replica.
//
// On the fault suite's layout (lib/topology.ts): the site's agents connect through its leaf node
// and read their assignments from the site's mirror; the other site's agents dial the hub (three
// clustered nats-servers, R3 buckets); Redis runs behind Sentinel.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { GROUP, stores, VERSION } from '@edgeplane/api';
import { kubeConfig } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { apiGet, applyDeployment, customObjects, detector, ensureNamespace, getDeployment, gpu, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { SITE, startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-site');
const kube = inject('kube');
const kc = kubeConfig(kube);
const GRACE_MS = 1000;
const EVICTION_MS = 1500;
let topology: Topology;
let cp: ControlPlane;
const agents: TestAgent[] = [];
// Site a (the leaf's site): n1..n3, where the replicas go (equal scores pick the lower names);
// site b: n4..n6, on the hub.
const site = (i: number) => (i <= 3 ? 'a' : 'b');
const zoneOf = (i: number) => (site(i) === 'a' ? SITE : 'site-b');

async function reachable(node: string): Promise<boolean> {
  const n = (await customObjects(kc).getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'edgenodes', name: node })) as { status?: { conditions?: { type: string; status: string }[] } };
  return n.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'True';
}

async function placedNodes(name: string): Promise<string[]> {
  const res = await apiGet(cp.address, `/api/v1/deployments/${run}/${name}`);
  if (!res.ok) throw new Error(`read API: HTTP ${res.status}`);
  return ((await res.json()) as { placements: { node: string }[] }).placements.map((p) => p.node).sort();
}

const kvLastSeq = async () => (await (await jetstreamManager(await topology.admin())).streams.info(`KV_${stores.assignments}`)).state.last_seq;

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, nodeMonitorGracePeriodMs: GRACE_MS, evictionDelayMs: EVICTION_MS }));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  await topology.mirrorAssignmentsAtSite();
  for (const i of [1, 2, 3, 4, 5, 6]) {
    agents.push(
      await TestAgent.start({
        nats: site(i) === 'a' ? topology.site : topology.hub,
        node: `${run}-n${i}`,
        accelerators: [gpu()],
        power: { source: 'mains' },
        network: { type: 'ethernet', bandwidthMbps: 1000 },
        labels: { 'edgeplane.io/test-run': run, 'topology.kubernetes.io/zone': zoneOf(i) },
        loadMs: 100,
      }),
    );
  }
  await applyDeployment(kc, detector(run, 'det', 3, { placement: { maxPerNode: 1 } }));
  await waitFor('3/3 Ready', async () => (await getDeployment(kc, run, 'det')).status?.readyReplicas === 3, 20_000);
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await topology?.stop();
});

describe('a whole site goes silent', () => {
  it('its nodes are NotReady, yet no replica leaves the site and no KV revision is written', async () => {
    const placed = await placedNodes('det');
    const siteA = agents.filter((_, i) => site(i + 1) === 'a');
    expect(placed).toEqual(siteA.map((a) => a.node).sort());
    const seq = await kvLastSeq();
    for (const a of siteA) a.silence();
    const sawNotReady = new Set<string>();
    const end = Date.now() + GRACE_MS + EVICTION_MS + 1500;
    while (Date.now() < end) {
      for (const a of siteA) if (!(await reachable(a.node))) sawNotReady.add(a.node);
      expect(await placedNodes('det')).toEqual(placed);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([...sawNotReady].sort()).toEqual(placed);
    expect(await kvLastSeq()).toBe(seq);
    for (const a of siteA) a.resume();
    for (const a of siteA) await waitFor(`${a.node} Ready again`, () => reachable(a.node), 10_000);
    expect(await placedNodes('det')).toEqual(placed);
  });

  it('one node silent in a healthy site still loses its replica after the eviction delay', async () => {
    const victim = agents[0]!;
    victim.silence();
    const moved = await waitFor('replica moved off the silent node', async () => {
      const nodes = await placedNodes('det');
      return nodes.length === 3 && !nodes.includes(victim.node) ? nodes : undefined;
    }, 15_000);
    expect(moved).toHaveLength(3);
    victim.resume();
  });
});
