// A new node's hello is answered once it is admitted, before its EdgeNode is written: its
// heartbeats count from the reply on, its EdgeNode and status follow, and a hello a leader
// answered but never wrote (it died) is written by the next leader from Redis.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode, EN_PLURAL, GROUP, Heartbeat, Hello, HelloReply, NodeCommand, PROTOCOL_VERSION, subjects, VERSION } from '@edgeplane/api';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { encodePending, PENDING_HELLOS_KEY } from '../../control-plane/src/fleet/hello-pending.ts';
import type { Config } from '../../control-plane/src/config.ts';
import { waitFor } from '../helpers/agent.ts';
import { controlPlaneNats } from '@edgeplane/env';
import { customObjects, ensureNamespace, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';

const run = runId('cp-hello');
const kube = inject('kube');
const kc = kubeConfig(kube);
let nats: NatsServer;
let redisServer: RedisServer;
let redis: Redis;
let admin: NatsConnection;
let config: Config;
let cp: ControlPlane | undefined;

const helloOf = (node: string, agentVersion = 'test'): Hello => ({
  v: PROTOCOL_VERSION,
  node,
  agentVersion,
  bootId: 'b',
  host: { arch: 'x64' },
  accelerators: [gpu()],
  power: { source: 'mains' as const },
  network: { type: 'ethernet' as const },
  labels: { 'edgeplane.io/test-run': run, 'edgeplane.io/role': 'camera' },
  cachedArtifacts: [],
});

type Stored = { metadata?: { labels?: Record<string, string> }; status?: { agentVersion?: string; conditions?: { type: string; status: string }[] } };
const edgeNode = (name: string): Promise<Stored | null> =>
  customObjects(kc)
    .getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name })
    .then(
      (o) => o as Stored,
      () => null,
    );

async function startLeader(): Promise<ControlPlane> {
  const c = await startControlPlane(config);
  await waitReady(c.address);
  await waitFor('leadership', () => c.isLeader());
  return c;
}

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  redis = new Redis(redisServer.url);
  await ensureNamespace(kc, run);
  config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redisServer.url, kubeconfigPath: kube.kubeconfigPath, run });
  cp = await startLeader();
  admin = await connect(await nats.connectOptions('admin'));
});

afterAll(async () => {
  await admin?.close();
  await cp?.stop();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

describe('hello admission', () => {
  it("answers a new node at once; its heartbeats count, its EdgeNode follows, and it is asked for a full heartbeat", async () => {
    const node = `${run}-new`;
    const commands: string[] = [];
    const sub = admin.subscribe(subjects.command(node), { callback: (_e, m) => void commands.push(m.string()) });
    const refused = async () => metricValue(await scrape(cp!.address), 'edgeplane_heartbeats_refused_total', { reason: 'unknown-node' });
    const refusedBefore = await refused();
    const reply = decode(HelloReply, 'hello reply', (await admin.request(subjects.hello(node), encode(Hello, 'hello', helloOf(node)), { timeout: 5000 })).data);
    expect(reply.ok && reply.value.accepted).toBe(true);
    // Right after the reply, whether or not its EdgeNode is there yet.
    admin.publish(subjects.status(node), encode(Heartbeat, 'heartbeat', { v: 1, seq: 7, power: { source: 'battery', batteryPercent: 80, charging: false } }));
    await admin.flush();
    await waitFor('heartbeat stored', async () => (await redis.hget(`ep:node:${node}`, 'seq')) === '7', 5000);
    expect(await refused()).toBe(refusedBefore);
    await waitFor('EdgeNode with status', async () => (await edgeNode(node))?.status?.agentVersion === 'test', 10_000);
    const stored = (await edgeNode(node))!;
    expect(stored.metadata?.labels?.['edgeplane.io/role']).toBe('camera');
    expect(stored.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    await waitFor('pending hello cleared', async () => (await redis.hexists(PENDING_HELLOS_KEY, node)) === 0, 5000);
    await waitFor('full heartbeat asked for', () => commands.length > 0, 5000);
    expect(decode(NodeCommand, 'node command', commands[0]!).ok && JSON.parse(commands[0]!).op).toBe('full-heartbeat');
    sub.unsubscribe();
  });

  it('writes the EdgeNode of a hello a dead leader answered and never wrote', async () => {
    await cp!.stop();
    cp = undefined;
    const node = `${run}-orphaned`;
    // As a leader leaves it when it dies between the reply and the write.
    await redis.hset(PENDING_HELLOS_KEY, node, encodePending({ hello: helloOf(node, 'v-left'), atMs: Date.now() }));
    await redis.hset(PENDING_HELLOS_KEY, `${run}-garbled`, '{"atMs":1,"hello":{"node":"x"}}');
    expect(await edgeNode(node)).toBeNull();
    cp = await startLeader();
    await waitFor('EdgeNode written by the next leader', async () => (await edgeNode(node))?.status?.agentVersion === 'v-left', 10_000);
    await waitFor('pending hellos cleared', async () => (await redis.hlen(PENDING_HELLOS_KEY)) === 0, 5000);
  }, 30_000);
});
