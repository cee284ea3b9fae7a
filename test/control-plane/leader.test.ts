// Two control-plane processes on one Lease: only the leader writes to Kubernetes and KV,
// both ingest heartbeats; killing the leader hands over within the lease duration and the
// follower carries on from the same placements.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { stores } from '@edgeplane/api';
import { freePort, kubeConfig, repoRoot, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { startProcess, type ServerProcess } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { controlPlaneNats } from '@edgeplane/env';
import { applyDeployment, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, testEnv } from '../helpers/control-plane.ts';

const run = runId('cp-lead');
const kube = inject('kube');
const kc = kubeConfig(kube);
const dir = mkdtempSync(join(tmpdir(), 'ep-cp-lead-'));
let nats: NatsServer;
let redis: RedisServer;
let nc: NatsConnection;
const agents: TestAgent[] = [];

interface Replica {
  name: string;
  url: string;
  proc: ServerProcess;
}
const replicas: Replica[] = [];

async function startReplica(name: string): Promise<Replica> {
  const port = await freePort();
  const config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run, identity: name, apiAddr: { host: '127.0.0.1', port } });
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const main = join(repoRoot, 'control-plane', 'src', 'main.ts');
  const proc = startProcess(name, process.execPath, ['--import', tsx, main], dir, testEnv(config, kube.kubeconfigPath));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} ready`, async () => proc.alive() && (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)), 30_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.tail()}`);
  });
  const r = { name, url, proc };
  replicas.push(r);
  return r;
}

const leaderMetric = async (r: Replica) => metricValue(await scrape(r.url), 'edgeplane_leader');

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await ensureNamespace(kc, run);
  nc = await connect(await nats.connectOptions('admin'));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await Promise.all(replicas.map((r) => r.proc.stop()));
  await nc?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('leader election between two control-plane processes', () => {
  it('lets only the leader write, and hands over when the leader dies', async () => {
    const a = await startReplica('cp-a');
    await waitFor('cp-a leads', async () => (await leaderMetric(a)) === 1, 10_000);
    const b = await startReplica('cp-b');
    for (const i of [1, 2, 3]) {
      agents.push(
        await TestAgent.start({
          nats,
          node: `${run}-n${i}`,
          accelerators: [gpu()],
          power: { source: 'mains' },
          network: { type: 'ethernet' },
          labels: { 'edgeplane.io/test-run': run },
        }),
      );
    }
    await applyDeployment(kc, detector(run, 'det', 3));
    const before = await waitFor('3/3 ready', async () => {
      const s = (await getDeployment(kc, run, 'det')).status;
      return s?.readyReplicas === 3 ? s : undefined;
    });

    // The queue group picks a member at random per heartbeat: within a few seconds each replica
    // has taken some (a replica that never does is what this catches).
    const ingested = async (r: Replica) => metricValue(await scrape(r.url), 'edgeplane_heartbeats_ingested_total') > 0;
    await waitFor('both replicas ingest', async () => (await ingested(a)) && (await ingested(b)), 10_000, 200).catch(() => undefined);
    const [ma, mb] = [await scrape(a.url), await scrape(b.url)];
    // One object, so a failure shows every figure at once.
    expect({
      aLeader: metricValue(ma, 'edgeplane_leader'),
      aKubeWrites: metricValue(ma, 'edgeplane_kube_writes_total') > 0,
      aKvCreated: metricValue(ma, 'edgeplane_kv_writes_total', { outcome: 'created' }),
      bLeader: metricValue(mb, 'edgeplane_leader'),
      bKubeWrites: metricValue(mb, 'edgeplane_kube_writes_total'),
      bKvWrites: metricValue(mb, 'edgeplane_kv_writes_total'),
      // Every replica ingests: the queue group spreads heartbeats over both.
      aIngests: metricValue(ma, 'edgeplane_heartbeats_ingested_total') > 0,
      bIngests: metricValue(mb, 'edgeplane_heartbeats_ingested_total') > 0,
    }).toEqual({ aLeader: 1, aKubeWrites: true, aKvCreated: 3, bLeader: 0, bKubeWrites: 0, bKvWrites: 0, aIngests: true, bIngests: true });

    const kv = await new Kvm(nc).open(stores.assignments);
    const revisions = async () => Object.fromEntries(await Promise.all(agents.map(async (x) => [x.node, (await kv.get(x.node))?.revision]))) as Record<string, number>;
    const revisionsBefore = await revisions();

    // A crash: no chance to release the Lease.
    process.kill(a.proc.pid, 'SIGKILL');
    // Bounded by the lease duration plus two retry periods and slack for a busy machine.
    const t = testConfig({ natsUrl: '', redisUrl: '', kubeconfigPath: '', run });
    await waitFor('cp-b leads', async () => (await leaderMetric(b)) === 1, t.leaseDurationMs + 2 * t.retryPeriodMs + 1500, 50);

    // The new leader starts from the stored placements: same state, nothing rewritten.
    await waitFor('cp-b reconciled', async () => metricValue(await scrape(b.url), 'edgeplane_reconcile_total', { outcome: 'success' }) >= 1, 10_000);
    const after = (await getDeployment(kc, run, 'det')).status;
    const summary = (s: typeof before | undefined) => (s?.placements ?? []).map((p) => `${p.node}:${p.variant}:${p.phase}`).sort();
    expect(summary(after)).toEqual(summary(before));
    expect(after?.ready).toBe('3/3');
    expect(await revisions()).toEqual(revisionsBefore);
    expect(metricValue(await scrape(b.url), 'edgeplane_kv_writes_total', { outcome: 'unchanged' })).toBeGreaterThan(0);

    // And it acts on what changes next.
    agents[0]!.setPower({ source: 'battery', batteryPercent: 10 });
    await waitFor('re-tiered by the new leader', () => agents[0]!.variantOf(`${run}/det`) === 'det-int8', 10_000, 50);
    expect(metricValue(await scrape(b.url), 'edgeplane_kv_writes_total', { outcome: 'updated' })).toBeGreaterThan(0);

    // SIGTERM: a clean shutdown releases the Lease for the next replica.
    await b.proc.stop(10_000);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: `ep-${run}`, namespace: run });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
  });
});
