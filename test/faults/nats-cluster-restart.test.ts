// Invariant: with the assignments KV replicated on three NATS servers, SIGKILL of one server and
// then a restart of the whole cluster lose no assignment and make no needless write (every
// node's KV entry keeps its revision and value), and every agent reconnects and is heard again.
//
// On the fault suite's layout (lib/topology.ts): the hub is three clustered nats-servers
// (JetStream on file storage, JWT auth, TLS) and the control plane creates the bucket with three
// copies (--kv-replicas 3); agents know all three URLs, the control plane one (it learns the
// others from the cluster), the very one killed. Redis runs behind Sentinel.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import { stores } from '@edgeplane/api';
import { kubeConfig, type NatsCluster } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { applyDeployment, detector, ensureNamespace, getDeployment, gpu, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { redisKeys } from '../../control-plane/src/fleet/keys.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('nats-cluster-fault');
const kube = inject('kube');
const kc = kubeConfig(kube);
let topology: Topology;
let cluster: NatsCluster;
let cp: ControlPlane;
let kv: KV;
const agents: TestAgent[] = [];

/** Each node's KV entry as revision and value; the control plane's writes are the only ones. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of agents) {
    const e = await kv.get(a.node);
    out[a.node] = e ? `${e.revision}:${e.string()}` : 'missing';
  }
  return out;
}

beforeAll(async () => {
  topology = await startTopology();
  cluster = topology.cluster;
  await ensureNamespace(kc, run);
  // A grace period longer than the outages: this scenario is about the store, not node lifecycle
  // (with the suites' 600 ms grace and no eviction delay, a node the control plane could not hear
  // while it reconnected had its replica moved, and moved back: a rewrite).
  cp = await startControlPlane(testConfig({ ...(await topology.controlPlane()), natsUrl: cluster.servers[1]!.url, kubeconfigPath: kube.kubeconfigPath, run, nodeMonitorGracePeriodMs: 20_000 }));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  kv = await new Kvm(await topology.admin()).open(stores.assignments);
  for (const i of [1, 2, 3]) {
    agents.push(
      await TestAgent.start({ nats: topology.hub, node: `${run}-n${i}`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet' }, labels: { 'edgeplane.io/test-run': run } }),
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
  await cp?.stop();
  await topology?.stop();
});

it('loses nothing and rewrites nothing when one server dies and then the whole cluster restarts', async () => {
  expect((await kv.status()).streamInfo.config.num_replicas).toBe(3);
  await applyDeployment(kc, detector(run, 'det', 3));
  await waitFor('3/3 ready', async () => ((await getDeployment(kc, run, 'det')).status?.readyReplicas === 3 ? true : undefined), 20_000);
  // Settled: two readings 1.5 s apart agree (on a loaded machine the rollout may still be
  // re-sending an entry an agent was slow to report), so what changes later is the fault's doing.
  let before = await snapshot();
  await waitFor('KV settled', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const now = await snapshot();
    const same = JSON.stringify(now) === JSON.stringify(before);
    before = now;
    return same || undefined;
  }, 30_000, 0);
  expect(Object.values(before).every((v) => v !== 'missing')).toBe(true);
  const heard = () => agents.map((a) => a.assignments.length);

  // One server of three: the KV keeps answering from the other two.
  await cluster.servers[1]!.process().kill('SIGKILL');
  await waitFor('KV readable with a server down', async () => ((await snapshot().catch(() => null)) !== null ? true : undefined), 15_000, 250);
  expect(await snapshot()).toEqual(before);
  await cluster.servers[1]!.start();
  await cluster.waitForJetStream();

  // The whole cluster: stop all three, start all three on the same stores.
  const assignmentsBefore = heard();
  await cluster.hub.restart();
  const restartedAt = Date.now();
  await cluster.waitForJetStream();
  const after = await waitFor('KV readable after the restart', () => snapshot().catch(() => undefined), 20_000, 250);
  const ready = await waitFor('3/3 ready after the restart', async () => ((await getDeployment(kc, run, 'det')).status?.readyReplicas === 3 ? true : undefined), 20_000);
  // Every agent is heard again: its lastSeen moves past the restart.
  const probe = await topology.redisClient();
  await waitFor(
    'heartbeats of every agent after the restart',
    async () => {
      const seen = await Promise.all(agents.map((a) => probe.zscore(redisKeys.lastSeen, a.node)));
      return seen.every((s) => s !== null && Number(s) > restartedAt) ? true : undefined;
    },
    20_000,
    200,
  );
  await new Promise((r) => setTimeout(r, 1000));
  // One object, so a failure shows every figure at once.
  expect({ after: await snapshot(), ready, unchangedAfterRestart: after }).toEqual({ after: before, ready: true, unchangedAfterRestart: before });
  // No agent was sent anything new: what it holds is what it held.
  expect(heard()).toEqual(assignmentsBefore);
});
