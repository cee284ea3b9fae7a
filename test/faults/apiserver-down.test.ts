// Invariant: while kube-apiserver is down, every agent keeps serving (KServe v2 REST inference on
// a real agent answers 200, and so does inference over NATS), and once it is back the control
// plane catches up with a bounded number of Kubernetes writes and applies the change that
// happened meanwhile (a node's battery crossing a tier boundary).
//
// The file has an etcd + kube-apiserver of its own: the shared one of the test run must stay up
// for the other files. kube-apiserver is SIGKILLed and started again on the same port after
// OUTAGE_MS. The outage is 30 s as in the production scenario: fifteen lease durations and
// fifteen grace periods at these test timings, so the leader has long stepped down and every
// node's silence would have counted, were silence counted while the control plane cannot act.
//
// The grace period and the eviction delay are ten heartbeat intervals each, not the suite's
// three and zero: with 600 ms a busy 2-core machine (several test files, each with its servers)
// once starved the agent or the control plane that long before the outage, both nodes went
// NotReady, m was evicted from the real agent and it answered 404 / "no responders". That is a
// node silent past a grace period scaled down 60x, not the outage this file is about.
//
// On the fault suite's layout (lib/topology.ts): the model store has three copies on a
// three-server NATS cluster, agents and the inference client dial the hub, the control plane
// finds Redis through Sentinel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { inferHeaders, subjects } from '@edgeplane/api';
import { serveTag } from '@edgeplane/trust';
import { installCrds, kubeConfig, startKube, type KubeServer } from '@edgeplane/env';
import type { KubeConfig } from '@kubernetes/client-node';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { applyDeployment, detector, ensureNamespace, getDeployment, gpu, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import type { Config } from '../../control-plane/src/config.ts';
import { deployment, pushVariant, startAgentChild, tinyVariant, type AgentChild } from './lib/failure-kit.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const OUTAGE_MS = 30_000;
/** Heartbeat intervals a node may be silent before it is NotReady, and again before it is evicted. */
const SILENCE_HEARTBEATS = 10;
/** The quiet and catch-up windows of Kubernetes writes. */
const WINDOW_MS = 5000;
/**
 * How long one inference may take before it counts as a failure. Slow is not down: on a 2-core
 * machine at a load of 20 a first REST request once took over 2 s; the outage is what is tested.
 */
const REQUEST_TIMEOUT_MS = 5000;
/** The outage is checked in slices this long: each must have a 200 each way. */
const SLICE_MS = 2 * REQUEST_TIMEOUT_MS;
const run = runId('fault-apiserver');
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-apiserver-'));
const served = tinyVariant('m-fp32', 'fp32', 0.9);
const BATTERY = { 'edgeplane.io/test-power': 'battery' };
let kube: KubeServer;
let kc: KubeConfig;
let topology: Topology;
let cp: ControlPlane;
let cpConfig: Config;
let real: AgentChild;
let battery: TestAgent;
const open: NatsConnection[] = [];

/** The control plane's successful Kubernetes writes (the Lease aside), by resource. */
async function kubeWrites(): Promise<Record<string, number>> {
  const m = await cp.metrics.kubeWrites.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.resource), v.value]));
}
/**
 * Slices of the outage, SLICE_MS each, in which no request was answered 200 (empty: served
 * throughout). A request takes at most REQUEST_TIMEOUT_MS and the loop pauses 200 ms, so a slice
 * with no 200 means failures, never a merely slow machine.
 */
function servedThroughout(at: readonly number[], from: number, to: number): string[] {
  const gaps: string[] = [];
  for (let t = from; t + SLICE_MS <= to; t += SLICE_MS) {
    if (!at.some((a) => a >= t && a < t + SLICE_MS)) gaps.push(`${t - from}..${t - from + SLICE_MS} ms`);
  }
  return gaps;
}
const total = (w: Record<string, number>) => Object.values(w).reduce((a, b) => a + b, 0);
const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]).filter(([, v]) => v !== 0));

beforeAll(async () => {
  [kube, topology] = await Promise.all([startKube({ dir: join(dir, 'kube') }), startTopology()]);
  await installCrds(kube);
  kc = kubeConfig(kube);
  await ensureNamespace(kc, run);
  await pushVariant(await topology.models(), served);
  const base = testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run });
  cpConfig = { ...base, nodeMonitorGracePeriodMs: SILENCE_HEARTBEATS * base.heartbeatIntervalMs, evictionDelayMs: SILENCE_HEARTBEATS * base.heartbeatIntervalMs };
  cp = await startControlPlane(cpConfig);
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader(), 20_000);
  real = await startAgentChild({ nats: topology.hub, node: `${run}-real`, run, dir, cacheDir: join(dir, 'cache'), tags: [serveTag(run, 'm')] });
  await applyDeployment(kc, deployment(run, 'm', [served]));
  await waitFor('m Ready on the real agent', async () => (await getDeployment(kc, run, 'm')).status?.readyReplicas === 1, 30_000, 200);
  // Started after m is placed, and the only node det may use: det's tier follows its battery.
  battery = await TestAgent.start({
    nats: topology.hub,
    node: `${run}-battery`,
    accelerators: [gpu()],
    power: { source: 'battery', batteryPercent: 80, charging: false },
    network: { type: 'ethernet', bandwidthMbps: 1000 },
    labels: { 'edgeplane.io/test-run': run, ...BATTERY },
    loadMs: 100,
  });
  await applyDeployment(kc, detector(run, 'det', 1, { placement: { selector: { matchLabels: BATTERY } } }));
  await waitFor('det Ready at fp32', async () => battery.variantOf(`${run}/det`) === 'det-fp32' && (await getDeployment(kc, run, 'det')).status?.readyReplicas === 1, 20_000, 100);
}, 120_000);

afterAll(async () => {
  await battery?.stop().catch(() => {});
  await real?.proc.stop();
  await cp?.stop();
  await Promise.all(open.map((nc) => nc.close()));
  await Promise.all([topology?.stop(), kube?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

it('keeps agents serving through a kube-apiserver outage and catches up after with bounded writes', { timeout: 120_000 }, async () => {
  const client = await connect(await topology.hub.connectOptions('client'));
  open.push(client);
  const row = [1, 2, 0.5, -1];
  const rest = async (): Promise<string> => {
    try {
      const r = await fetch(`${real.http}/v2/models/m/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: row }] }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await r.arrayBuffer();
      return String(r.status);
    } catch (err) {
      return (err as Error).message;
    }
  };
  const overNats = async (): Promise<string> => {
    const h = headers();
    h.set(inferHeaders.tensors, JSON.stringify([{ name: 'X', datatype: 'FP32', shape: [1, 4] }]));
    try {
      const r = await client.request(subjects.infer(run, 'm'), new Uint8Array(new Float32Array(row).buffer), { headers: h, timeout: REQUEST_TIMEOUT_MS });
      return r.headers?.get(inferHeaders.status) ?? 'no status';
    } catch (err) {
      return (err as Error).message;
    }
  };
  expect([await rest(), await overNats()]).toEqual(['200', '200']);

  // Inference keeps coming, 5 requests a second each way, from before the outage until after.
  const answers = { rest: new Map<string, number>(), nats: new Map<string, number>() };
  // When each 200 came, to show serving went on through the whole outage, not merely before it.
  const served = { rest: [] as number[], nats: [] as number[] };
  let inferring = true;
  const loop = async (call: () => Promise<string>, into: Map<string, number>, at: number[]) => {
    while (inferring) {
      const s = await call();
      into.set(s, (into.get(s) ?? 0) + 1);
      if (s === '200') at.push(Date.now());
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const loops = [loop(rest, answers.rest, served.rest), loop(overNats, answers.nats, served.nats)];

  // The steady rate of writes with nothing happening, over a window as long as the catch-up's.
  const quiet0 = await kubeWrites();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const steady = diff(quiet0, await kubeWrites());

  const killedAt = Date.now();
  await kube.apiServer().kill('SIGKILL');
  // The change made meanwhile, once the leader has stopped acting (its renew deadline passed
  // with the API server gone): the battery node falls below the 50 % cap of full precision.
  await new Promise((r) => setTimeout(r, cpConfig.renewDeadlineMs + 1000));
  battery.setPower({ source: 'battery', batteryPercent: 40, charging: false });
  const seenBefore = battery.assignments.length;
  await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - killedAt)));
  const sentDuringOutage = battery.assignments.length - seenBefore;
  const leaderDuringOutage = cp.isLeader();
  const atReturn = await kubeWrites();
  await kube.restartApiServer();
  const backAt = Date.now();

  await waitFor('leadership again', () => cp.isLeader(), 20_000, 50);
  const leaderMs = Date.now() - backAt;
  await waitFor('det switched to fp16', () => battery.variantOf(`${run}/det`) === 'det-fp16', 20_000, 50);
  const appliedMs = Date.now() - backAt;
  await waitFor('det Ready again', async () => (await getDeployment(kc, run, 'det')).status?.readyReplicas === 1, 10_000, 100);
  // Writes of the catch-up: from the return until one window after the change was applied.
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const catchUp = diff(atReturn, await kubeWrites());
  inferring = false;
  await Promise.all(loops);

  const status = (await getDeployment(kc, run, 'm')).status?.readyReplicas;
  console.info(
    `[fault] kube-apiserver down ${backAt - killedAt} ms; leader again ${leaderMs} ms and battery tier applied ${appliedMs} ms after it answered; ` +
      `Kubernetes writes: ${total(catchUp)} in the catch-up (${JSON.stringify(catchUp)}), ${total(steady)} in a quiet ${WINDOW_MS} ms (${JSON.stringify(steady)}); ` +
      `inferences REST ${JSON.stringify([...answers.rest])} NATS ${JSON.stringify([...answers.nats])}`,
  );
  // Bounded: per object the control plane writes (2 EdgeNodes, 2 deployments), at most four
  // writes for the catch-up (status, condition changes, an Event), on top of the steady rate.
  const bound = 4 * 4 + total(steady);
  expect({
    restFailures: [...answers.rest].filter(([s]) => s !== '200'),
    natsFailures: [...answers.nats].filter(([s]) => s !== '200'),
    restServedThroughout: servedThroughout(served.rest, killedAt, backAt),
    natsServedThroughout: servedThroughout(served.nats, killedAt, backAt),
    sentDuringOutage,
    leaderDuringOutage,
    writesWithinBound: total(catchUp) <= bound,
    mReady: status,
    applied: battery.variantOf(`${run}/det`),
  }).toEqual({ restFailures: [], natsFailures: [], restServedThroughout: [], natsServedThroughout: [], sentDuringOutage: 0, leaderDuringOutage: false, writesWithinBound: true, mReady: 1, applied: 'det-fp16' });
});
