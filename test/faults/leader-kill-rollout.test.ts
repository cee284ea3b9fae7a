// Invariant: with the leader SIGKILLed at three points while 60 placements roll out over 30
// simulated nodes, the final KV equals that of the same rollout without faults, no assignment
// ever lists a workload twice, and no node's entry ever goes back to an older leader term.
//
// Two control-plane replicas run as child processes in their own process groups; each kill
// is a real SIGKILL of the Lease holder's group, and a replacement replica is started at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoordinationV1Api } from '@kubernetes/client-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Assignment, EMD_PLURAL, GROUP, VERSION, decode, stores } from '@edgeplane/api';
import { freePort, kubeConfig, repoRoot, startNats, startProcess, startRedis, type NatsServer, type RedisServer, type ServerProcess } from '@edgeplane/env';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startSimulation, type Simulation } from '../../cli/src/simulate/index.ts';
import { waitFor } from '../helpers/agent.ts';
import { customObjects, ensureNamespace, getDeployment, runId, testConfig, testEnv } from '../helpers/control-plane.ts';
import { controlPlaneNats } from '../helpers/nats.ts';
import { createDeployment, deleteDeployment, ocrDetection, waitForReadyNodes } from '../simulate/deployment.ts';

const NODES = 30;
const DEPLOYMENTS = ['det-a', 'det-b'];
/** Replicas added per step of the faulty rollout. */
const STEP = 6;
const run = runId('leader-kill');
const kube = inject('kube');
const kc = kubeConfig(kube);
const labels = { 'edgeplane.io/test-run': run };
const coordination = kc.makeApiClient(CoordinationV1Api);
let nats: NatsServer;
let redis: RedisServer;
let nc: NatsConnection;
let kv: KV;
let sim: Simulation;
let logDir: string;
let baseEnv: Record<string, string>;
const replicas = new Map<string, ServerProcess>();
/** API port of each replica, by identity. */
const ports = new Map<string, number>();
let started = 0;

/** Every assignment value seen, for the invariants that hold at all times. */
const duplicates: string[] = [];
const termRegressions: string[] = [];
const lastTerm = new Map<string, number>();
/** Workloads per node as the watch last saw them: a count without a read. */
const seen = new Map<string, number>();
const seenPlaced = () => [...seen.values()].reduce((a, b) => a + b, 0);

function watchAll(entry: KvWatchEntry): void {
  if (entry.operation !== 'PUT') return void seen.delete(entry.key);
  const doc = decode(Assignment, 'assignment', entry.value);
  if (!doc.ok) return;
  seen.set(entry.key, doc.value.workloads.length);
  const keys = doc.value.workloads.map((w) => w.key);
  if (new Set(keys).size !== keys.length) duplicates.push(`${entry.key}@${entry.revision}: ${keys.join(',')}`);
  const term = doc.value.term;
  if (term === undefined) return;
  const before = lastTerm.get(entry.key);
  if (before !== undefined && term < before) termRegressions.push(`${entry.key}@${entry.revision}: term ${term} after ${before}`);
  lastTerm.set(entry.key, term);
}

async function startReplica(): Promise<string> {
  const identity = `${run}-cp${started++}`;
  const port = await freePort();
  const env = { ...baseEnv, EP_IDENTITY: identity, EP_API_ADDR: `127.0.0.1:${port}` };
  ports.set(identity, port);
  replicas.set(identity, startProcess(identity, process.execPath, ['--import', 'tsx', 'control-plane/src/main.ts'], repoRoot, env, logDir));
  return identity;
}

async function ready(identity: string): Promise<void> {
  const port = ports.get(identity);
  await waitFor(`${identity} ready`, () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), 45_000, 100).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${replicas.get(identity)?.tail(30) ?? ''}`);
  });
}

async function holder(): Promise<string> {
  const lease = await coordination.readNamespacedLease({ name: `ep-${run}`, namespace: run }).catch(() => undefined);
  return lease?.spec?.holderIdentity ?? '';
}

/** Placements in KV at each kill, as the watch saw them. */
const killedAt: number[] = [];
/** SIGKILL to another replica holding the Lease, per kill, ms. */
const recoveredMs: number[] = [];
/** Another replica taking over after the last kill. */
let takeover: Promise<void> = Promise.resolve();

/**
 * SIGKILLs the replica holding the Lease and starts a replacement; returns at once, while a
 * standby takes over (`takeover`). A kill waits for the takeover of the one before.
 */
async function killLeader(): Promise<void> {
  await takeover;
  const leader = await holder();
  const proc = replicas.get(leader);
  if (!proc) throw new Error(`the Lease holder ${leader || '(none)'} is not one of this test's replicas`);
  killedAt.push(seenPlaced());
  const killed = Date.now();
  await proc.kill('SIGKILL');
  replicas.delete(leader);
  await startReplica();
  takeover = waitFor('a new leader', async () => {
    const h = await holder();
    return h !== leader && replicas.has(h);
  }, 30_000, 50).then(() => void recoveredMs.push(Date.now() - killed));
}

/** node -> sorted `workload=variant` of every simulated node's entry. */
async function snapshot(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const node of sim.nodes.map((n) => n.name)) {
    const entry = await kv.get(node);
    const doc = entry?.operation === 'PUT' ? decode(Assignment, 'assignment', entry.value) : undefined;
    out[node] = doc?.ok ? doc.value.workloads.map((w) => `${w.key}=${w.variant.name}`).sort() : [];
  }
  return out;
}

/** Sets a deployment's replicas, re-reading on a conflict with the control plane's status writes. */
async function scale(name: string, replicas: number): Promise<void> {
  const custom = customObjects(kc);
  for (let attempt = 0; ; attempt++) {
    const emd = await getDeployment(kc, run, name);
    try {
      await custom.replaceNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name, body: { ...emd, spec: { ...emd.spec, replicas } } });
      return;
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409) || attempt > 10) throw err;
    }
  }
}

const placed = (s: Record<string, string[]>) => Object.values(s).reduce((n, w) => n + w.length, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await ensureNamespace(kc, run);
  logDir = mkdtempSync(join(tmpdir(), 'ep-leader-kill-'));
  const config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run, logLevel: 'warn' });
  baseEnv = testEnv(config, kube.kubeconfigPath);
  const first = [await startReplica(), await startReplica()];
  await Promise.all(first.map((id) => ready(id)));
  nc = await connect(await nats.connectOptions('admin'));
  kv = await new Kvm(nc).open(stores.assignments);
  void (async () => {
    for await (const e of await kv.watch()) watchAll(e);
  })();
  sim = await startSimulation({
    natsUrl: nats.url,
    natsCreds: await nats.credsFile('admin'),
    natsCa: nats.caFile ?? undefined,
    nodes: NODES,
    mix: 'x86-vnni:1',
    namePrefix: run,
    seed: 7,
    labels,
  });
  await sim.waitAccepted(30_000);
  await waitForReadyNodes(kc, `edgeplane.io/test-run=${run}`, NODES, 30_000);
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  for (const p of replicas.values()) await p.stop();
  await nc?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

it('leader SIGKILLed three times during a rollout: the final KV equals a run without faults, never a duplicate', async () => {
  // The rollout without faults.
  for (const name of DEPLOYMENTS) await createDeployment(kc, ocrDetection(run, name, NODES, labels));
  await waitFor('reference rollout', async () => placed(await snapshot()) === NODES * DEPLOYMENTS.length, 30_000, 100);
  const reference = await snapshot();
  for (const name of DEPLOYMENTS) await deleteDeployment(kc, run, name);
  await waitFor('reference removed', async () => placed(await snapshot()) === 0, 30_000, 100);
  for (const name of DEPLOYMENTS) await waitFor(`${name} gone`, () => getDeployment(kc, run, name).then(() => false, () => true), 30_000, 100);

  // The same rollout, in steps of six replicas, with the leader killed after the first step,
  // in the middle and at the last one; the next steps are applied while a standby takes over.
  for (const name of DEPLOYMENTS) await createDeployment(kc, ocrDetection(run, name, STEP, labels));
  for (let replicas = STEP; replicas <= NODES; replicas += STEP) {
    if (replicas > STEP) for (const name of DEPLOYMENTS) await scale(name, replicas);
    if (replicas === STEP || replicas === 3 * STEP || replicas === NODES) await killLeader();
    else await sleep(150);
  }
  await takeover;
  await waitFor('rollout converged', async () => placed(await snapshot()) === NODES * DEPLOYMENTS.length, 30_000, 100);
  // Settled: a resync finds nothing to change.
  await sleep(1500);
  expect(await snapshot(), `placements in KV at the kills: ${killedAt.join(', ')}; new leader after ${recoveredMs.join(', ')} ms`).toEqual(reference);
  expect(duplicates).toEqual([]);
  expect(termRegressions).toEqual([]);
}, 120_000);
