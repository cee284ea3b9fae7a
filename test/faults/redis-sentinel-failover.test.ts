// Invariant: when the Redis primary is SIGKILLed under Sentinel, the replica is promoted, no
// agent is sent an assignment without a workload it was serving, every replica stays Ready, and
// the control plane ingests heartbeats into the new primary (every node's lastSeen advances there).
//
// On the fault suite's layout (lib/topology.ts): Redis as production runs it (one primary, one
// replica, three sentinels), found by the control plane through the sentinels
// (--redis-sentinels, --redis-master-name); NATS a three-server cluster with R3 buckets.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { kubeConfig } from '@edgeplane/env';
import type { Redis } from 'ioredis';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { applyDeployment, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { redisKeys } from '../../control-plane/src/fleet/keys.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('sentinel-fault');
const kube = inject('kube');
const kc = kubeConfig(kube);
let topology: Topology;
let cp: ControlPlane;
let probe: Redis;
const agents: TestAgent[] = [];

beforeAll(async () => {
  // Sentinels call a primary silent for 1 s down: a failover within a few seconds.
  topology = await startTopology({ redis: { downAfterMs: 1000 } });
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run }));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  for (const i of [1, 2, 3]) {
    agents.push(
      await TestAgent.start({ nats: topology.hub, node: `${run}-n${i}`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet' }, labels: { 'edgeplane.io/test-run': run } }),
    );
  }
  probe = await topology.redisClient();
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await topology?.stop();
});

it('fails over without unloading anything, and ingestion resumes on the new primary', async () => {
  await applyDeployment(kc, detector(run, 'det', 3));
  await waitFor('3/3 ready', async () => ((await getDeployment(kc, run, 'det')).status?.readyReplicas === 3 ? true : undefined), 20_000);
  const serving = new Map(agents.map((a) => [a.node, new Set(a.latest?.workloads.map((w) => w.key) ?? [])]));
  expect([...serving.values()].every((keys) => keys.size === 1)).toBe(true);
  const seenBefore = agents.map((a) => a.assignments.length);

  const sentinel = topology.redis;
  // The primary the sentinels name now (on a busy machine they may have moved it already).
  const primary = await sentinel.primary();
  const [killed, replica] = sentinel.servers[0]!.port === primary.port ? [sentinel.servers[0]!, sentinel.servers[1]!] : [sentinel.servers[1]!, sentinel.servers[0]!];
  await killed.process().kill('SIGKILL');
  const killedAt = Date.now();
  const promoted = await sentinel.waitForFailover(primary, 30_000);
  expect(promoted.port).toBe(replica.port);

  // Ingestion resumes: every node's lastSeen on the new primary moves past the failover.
  const failedOverAt = Date.now();
  await waitFor(
    'heartbeats ingested into the new primary',
    async () => {
      const scores = await Promise.all(agents.map((a) => probe.zscore(redisKeys.lastSeen, a.node).catch(() => null)));
      return scores.every((s) => s !== null && Number(s) > failedOverAt) ? true : undefined;
    },
    15_000,
    200,
  );
  const ingestedBefore = metricValue(await scrape(cp.address), 'edgeplane_heartbeats_ingested_total');
  await waitFor('more heartbeats ingested', async () => metricValue(await scrape(cp.address), 'edgeplane_heartbeats_ingested_total') > ingestedBefore + 10, 5000, 200);

  // Several grace periods after the primary came back: nothing moved or unloaded meanwhile.
  await new Promise((r) => setTimeout(r, 3000));
  const status = (await getDeployment(kc, run, 'det')).status;
  const unloaded = agents.flatMap((a, i) =>
    a.assignments.slice(seenBefore[i]).flatMap((asg) => {
      const keys = new Set(asg.workloads.map((w) => w.key));
      return [...serving.get(a.node)!].filter((k) => !keys.has(k)).map((k) => `${a.node} lost ${k}`);
    }),
  );
  console.info(`[fault] redis primary SIGKILL -> sentinels named the replica in ${failedOverAt - killedAt} ms`);
  // One object, so a failure shows every figure at once.
  expect({ unloaded, readyReplicas: status?.readyReplicas }).toEqual({ unloaded: [], readyReplicas: 3 });
});
