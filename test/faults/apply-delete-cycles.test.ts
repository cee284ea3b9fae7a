// Invariant: every deployment applied reaches all three agents and every deployment deleted
// leaves them, within a bound, in each of 200 apply/delete cycles in a row (no AwaitingAgent
// stall), each cycle deleting one deployment while applying the next, and agents reconnecting
// now and then as a credential renewal makes them do. Under heavy load the liveness sweep may
// call the agents NotReady for a moment (their heartbeats read late): entries held meanwhile
// must still be written when they are Ready again (test/control-plane/node-return.test.ts).
//
// Real processes and code paths: nats-server (JWT auth, TLS), Redis, kube-apiserver, the
// control plane, and three agents (startAgent: session, assignment watch, apply chain, disk);
// only the model runtime is a recording double, so 200 cycles fit in well under a minute.
//
// On the fault suite's layout (lib/topology.ts): the assignments bucket has three copies on a
// three-server NATS cluster (--kv-replicas 3), the agents dial the hub, Redis runs behind
// Sentinel.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Assignment, EMD_PLURAL, GROUP, VERSION, decode, stores } from '@edgeplane/api';
import { kubeConfig } from '@edgeplane/env';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { agentConfig, recordingManager, tempDir, testLogger, until, type RecordingManager } from '../agent/helpers.ts';
import { agentNats } from '@edgeplane/env';
import { applyDeployment, customObjects, detector, ensureNamespace, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { waitFor } from '../helpers/agent.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const CYCLES = 200;
/** Per step; a stall (what this test is about) lasted minutes. */
const STEP_TIMEOUT_MS = 5_000;
/**
 * The whole test: the steps' own bounds, so a stall fails at its step and a machine that is
 * slow but never stalls (a cycle takes 0.1 s quiet, up to 0.6 s on average at load 12 on two
 * cores) is not failed for throughput, which is not the invariant.
 */
const TEST_TIMEOUT_MS = (CYCLES + 3) * STEP_TIMEOUT_MS;
const run = runId('fault-cycles');
const kube = inject('kube');
const kc = kubeConfig(kube);
let topology: Topology;
let cp: ControlPlane;
let admin: NatsConnection;
let dir: Awaited<ReturnType<typeof tempDir>>;
const agents: { node: string; agent: RunningAgent; manager: RecordingManager; nc?: NatsConnection }[] = [];

const has = (m: RecordingManager, key: string) => m.applied.at(-1)?.workloads.some((w) => w.key === key) ?? false;

beforeAll(async () => {
  topology = await startTopology();
  dir = await tempDir('ep-fault-cycles-');
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, heartbeatIntervalMs: 200, workers: 4 }));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  admin = await topology.admin();
  await Promise.all(
    [1, 2, 3].map(async (i) => {
      const node = `${run}-n${i}`;
      const overrideFile = join(dir.path, `${node}.yaml`);
      await writeFile(overrideFile, `labels: { edgeplane.io/test-run: ${run} }\n`);
      const manager = recordingManager();
      const entry: (typeof agents)[number] = { node, manager, agent: undefined as unknown as RunningAgent };
      entry.agent = await startAgent(agentConfig({ node, ...(await agentNats(topology.hub, node)), stateDir: join(dir.path, node), overrideFile }), {
        log: testLogger(),
        createManager: () => manager,
        onNatsConnected: (nc) => (entry.nc = nc),
        session: { helloBackoff: { initialMs: 100, maxMs: 500 } },
      });
      agents.push(entry);
    }),
  );
  await Promise.all(agents.map((a) => a.agent.connected().then((s) => s.ready)));
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.agent.stop()));
  await cp?.stop();
  await topology?.stop();
  await dir?.remove();
});

describe(`${CYCLES} apply/delete cycles over three agents`, () => {
  it('never stall: each deployment reaches every agent and leaves it', async () => {
    const custom = customObjects(kc);
    const started = Date.now();
    let slowestMs = 0;
    const spec = (name: string) => detector(run, name, 3, { slo: { latencyMs: 5000, minAccuracy: 0.5 } });
    const del = (name: string) => custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name });
    await applyDeployment(kc, spec('d0'));
    for (const a of agents) await until(() => has(a.manager, `${run}/d0`), `d0 on ${a.node}`, STEP_TIMEOUT_MS);
    for (let i = 0; i < CYCLES; i++) {
      // Cycle i deletes d<i> and applies d<i+1> at once: their reconciles run in parallel and
      // write the same three nodes' entries, the race that used to drop or resurrect a workload.
      const gone = `${run}/d${i}`;
      const next = `${run}/d${i + 1}`;
      const t0 = Date.now();
      await Promise.all([del(`d${i}`), applyDeployment(kc, spec(`d${i + 1}`))]);
      // Now and then an agent's connection is dropped and made again, as a renewal does.
      if (i % 10 === 5) void agents[i % 3]!.nc?.reconnect();
      for (const a of agents) await until(() => has(a.manager, next) && !has(a.manager, gone), `cycle ${i}: ${next} on ${a.node} and ${gone} gone`, STEP_TIMEOUT_MS);
      slowestMs = Math.max(slowestMs, Date.now() - t0);
    }
    await del(`d${CYCLES}`);
    for (const a of agents) await until(() => !has(a.manager, `${run}/d${CYCLES}`), `d${CYCLES} gone from ${a.node}`, STEP_TIMEOUT_MS);
    // Each object went once its workloads had left KV (the finalizer let it go).
    await until(
      async () => ((await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL })) as { items: unknown[] }).items.length === 0,
      'every deployment deleted',
      STEP_TIMEOUT_MS,
    );
    // Nothing left behind in KV either.
    const kv = await new Kvm(admin).open(stores.assignments);
    for (const a of agents) {
      const e = await kv.get(a.node);
      const d = e?.operation === 'PUT' ? decode(Assignment, 'assignment', e.value) : null;
      expect(d?.ok ? d.value.workloads : []).toEqual([]);
    }
    const metrics = await scrape(cp.address);
    console.info(
      `[faults] ${CYCLES} apply/delete cycles over 3 agents in ${Date.now() - started} ms; slowest cycle ${slowestMs} ms; reconciles ok ${metricValue(metrics, 'edgeplane_reconcile_total', { outcome: 'success' })}, failed ${metricValue(metrics, 'edgeplane_reconcile_total', { outcome: 'error' })}; entries re-published for disagreeing agents ${metricValue(metrics, 'edgeplane_assignment_republishes_total')}`,
    );
  }, TEST_TIMEOUT_MS);
});
