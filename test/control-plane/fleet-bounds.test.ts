// The fleet edge's bounds against real servers: a node's hellos past its burst are refused with
// no write, hellos past the in-flight bound are answered busy at once, a heartbeat from a node
// with no EdgeNode is counted and leaves nothing in Redis, and a node silent past
// --node-gc-after-ms loses its EdgeNode, Redis telemetry and KV key while a live one keeps all;
// a known node's heartbeats past its pace are dropped and counted.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { decode, encode, EN_PLURAL, GROUP, Heartbeat, Hello, HelloReply, PROTOCOL_VERSION, stores, subjects, VERSION } from '@edgeplane/api';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { controlPlaneNats } from '@edgeplane/env';
import { customObjects, ensureNamespace, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';

const run = runId('cp-bounds');
const kube = inject('kube');
const kc = kubeConfig(kube);
const GC_AFTER_MS = 2000;
let nats: NatsServer;
let redisServer: RedisServer;
let redis: Redis;
let admin: NatsConnection;
let cp: ControlPlane;
const agents: TestAgent[] = [];

const helloOf = (node: string) =>
  encode(Hello, 'hello', {
    v: PROTOCOL_VERSION,
    node,
    agentVersion: 'test',
    bootId: 'b',
    host: { arch: 'x64' },
    accelerators: [gpu()],
    power: { source: 'mains' },
    network: { type: 'ethernet' },
    labels: { 'edgeplane.io/test-run': run },
  });

async function hello(node: string): Promise<{ accepted: boolean; reason?: string | undefined }> {
  const reply = decode(HelloReply, 'hello reply', (await admin.request(subjects.hello(node), helloOf(node), { timeout: 10_000 })).data);
  if (!reply.ok) throw reply.error;
  return { accepted: reply.value.accepted, reason: reply.value.reason };
}

const edgeNodeExists = (name: string) =>
  customObjects(kc)
    .getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name })
    .then(
      () => true,
      () => false,
    );

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  redis = new Redis(redisServer.url);
  await ensureNamespace(kc, run);
  cp = await startControlPlane(
    testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redisServer.url, kubeconfigPath: kube.kubeconfigPath, run, helloMaxInFlight: 2, helloPerNodeIntervalMs: 60_000, nodeGcAfterMs: GC_AFTER_MS }),
  );
  admin = await connect(await nats.connectOptions('admin'));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await admin?.close();
  await cp?.stop();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

describe('fleet bounds', () => {
  it('refuses a node past its hello burst, and answers busy past the in-flight bound', async () => {
    const node = `${run}-chatty`;
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await hello(node));
    expect(replies.slice(0, 5).every((r) => r.accepted)).toBe(true);
    expect(replies[5]).toMatchObject({ accepted: false, reason: expect.stringMatching(/too many hellos/) });

    // Two at a time: of twenty new names sent at once, the excess is told to retry.
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => hello(`${run}-burst${i}`)));
    expect(burst.some((r) => r.accepted)).toBe(true);
    expect(burst.filter((r) => !r.accepted).every((r) => /busy/.test(r.reason ?? ''))).toBe(true);
    expect(burst.some((r) => !r.accepted)).toBe(true);
    expect(metricValue(await scrape(cp.address), 'edgeplane_hellos_total', { outcome: 'busy' })).toBe(burst.filter((r) => !r.accepted).length);
  });

  it('counts and drops heartbeats from nodes with no EdgeNode, writing nothing', async () => {
    const ghost = `${run}-ghost`;
    for (let seq = 1; seq <= 5; seq++) admin.publish(subjects.status(ghost), encode(Heartbeat, 'heartbeat', { v: 1, seq, power: { source: 'mains' } }));
    await admin.flush();
    await waitFor('counted', async () => metricValue(await scrape(cp.address), 'edgeplane_heartbeats_refused_total', { reason: 'unknown-node' }) >= 5);
    expect(await redis.exists(`ep:node:${ghost}`)).toBe(0);
    expect(await redis.zscore('ep:nodes:last-seen', ghost)).toBeNull();
  });

  it("drops a known node's heartbeats past its pace, and keeps ingesting it", async () => {
    const fast = await TestAgent.start({ nats, node: `${run}-fast`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet' }, labels: { 'edgeplane.io/test-run': run } });
    agents.push(fast);
    const refused = async () => metricValue(await scrape(cp.address), 'edgeplane_heartbeats_refused_total', { reason: 'rate-limited' });
    const before = await refused();
    // A burst of 10 is allowed, then one per half interval (100 ms here): of 100 at once, most go.
    for (let seq = 1; seq <= 100; seq++) admin.publish(subjects.status(fast.node), encode(Heartbeat, 'heartbeat', { v: 1, seq }));
    await admin.flush();
    await waitFor('refused', async () => (await refused()) - before >= 80);
    // Its own heartbeats, at its pace, still land.
    const seen = Number(await redis.zscore('ep:nodes:last-seen', fast.node));
    await waitFor('heard again', async () => Number(await redis.zscore('ep:nodes:last-seen', fast.node)) > seen, 5000);
  });

  it('collects a node silent past the GC time, and never a live one', async () => {
    const live = await TestAgent.start({ nats, node: `${run}-live`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet' }, labels: { 'edgeplane.io/test-run': run } });
    agents.push(live);
    const gone = `${run}-gone`;
    expect((await hello(gone)).accepted).toBe(true);
    // An assignment as the leader would have left it.
    const kv = await new Kvm(admin).open(stores.assignments);
    await kv.put(gone, JSON.stringify({ v: 1, node: gone, workloads: [], issuedAtMs: 0 }));
    // An entry whose node is known nowhere else (no EdgeNode, and Redis lost its telemetry).
    const orphan = `${run}-orphan`;
    await kv.put(orphan, JSON.stringify({ v: 1, node: orphan, workloads: [], issuedAtMs: 0 }));
    await kv.put(live.node, JSON.stringify({ v: 1, node: live.node, workloads: [], issuedAtMs: 0 }));
    const silentFrom = Date.now();

    await waitFor('EdgeNode collected', async () => !(await edgeNodeExists(gone)), GC_AFTER_MS + 10_000, 200);
    expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(GC_AFTER_MS);
    await waitFor('telemetry and assignment collected', async () => (await redis.exists(`ep:node:${gone}`)) === 0 && (await kv.get(gone)) === null, 10_000, 200);
    expect(await redis.zscore('ep:nodes:last-seen', gone)).toBeNull();
    await waitFor('orphan entry collected', async () => (await kv.get(orphan)) === null, 10_000, 200);
    expect(Date.now() - silentFrom).toBeGreaterThanOrEqual(GC_AFTER_MS);

    expect(await edgeNodeExists(live.node)).toBe(true);
    expect(await redis.exists(`ep:node:${live.node}`)).toBe(1);
    expect((await kv.get(live.node))?.operation).toBe('PUT');
    expect(metricValue(await scrape(cp.address), 'edgeplane_nodes_collected_total', { what: 'assignment' })).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
