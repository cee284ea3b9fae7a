// The clustered layout as the environment starts it: three hub servers form one JetStream
// cluster (an R3 KV bucket keeps its data with one server down), and a site's agent and a
// client connected to the leaf reach each other and the hub's KV, and a mirror of a hub bucket
// at the site follows it, all with JWT auth and TLS.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { JS_DOMAIN, startNatsCluster, type NatsCluster } from '@edgeplane/env';

let cluster: NatsCluster;
const open: NatsConnection[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster({ site: 'site-a' });
  await cluster.waitForJetStream();
  await cluster.waitForLeaf();
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await cluster?.stop();
});

it('replicates a KV bucket three ways and serves it with one server killed', async () => {
  const admin = await connect({ ...(await cluster.hub.connectOptions('admin')), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  open.push(admin);
  const kv = await new Kvm(admin).create('ep-test-r3', { replicas: 3, history: 1 });
  await kv.put('k', 'v1');
  const status = await kv.status();
  expect(status.streamInfo.config.num_replicas).toBe(3);

  await cluster.servers[0]!.process().kill('SIGKILL');
  await expect.poll(async () => (await kv.get('k').catch(() => null))?.string(), { timeout: 15_000, interval: 200 }).toBe('v1');
  await expect.poll(async () => kv.put('k', 'v2').then(() => true, () => false), { timeout: 15_000, interval: 200 }).toBe(true);
  await cluster.servers[0]!.start();
  await cluster.waitForJetStream();
});

it('carries a site agent and client through the leaf, and KV reads to the hub', async () => {
  const leaf = cluster.leaf!;
  const agent = await connect(await leaf.connectOptions({ node: 'site-a-n1' }));
  const admin = await connect(await leaf.connectOptions('admin'));
  open.push(agent, admin);
  // The node's credential holds at the leaf too: it may not publish another node's status.
  const sub = admin.subscribe('ep.v1.node.*.status', { max: 1 });
  await admin.flush();
  agent.publish('ep.v1.node.site-a-n1.status', 'hb');
  for await (const m of sub) expect(m.subject).toBe('ep.v1.node.site-a-n1.status');

  // A hub-side write is read at the site through the leaf (no JetStream there), in the hub's domain.
  const hubAdmin = await connect(await cluster.hub.connectOptions('admin'));
  open.push(hubAdmin);
  const kv = await new Kvm(hubAdmin).open('ep-test-r3');
  await kv.put('site', 'x');
  const viaLeaf = await new Kvm(jetstream(admin, { domain: JS_DOMAIN })).open('ep-test-r3');
  // The hub's JetStream domain reaches the leaf once the leaf connection has exchanged its
  // interest, which takes longer on a loaded machine.
  await expect.poll(async () => (await viaLeaf.get('site').catch(() => null))?.string(), { timeout: 20_000, interval: 200 }).toBe('x');
});

it('mirrors a hub bucket at the site, where a node reads its key with plain JetStream calls', async () => {
  const hubAdmin = await connect(await cluster.hub.connectOptions('admin'));
  open.push(hubAdmin);
  const hubKv = await new Kvm(hubAdmin).create('ep-assignments', { history: 1, allow_direct: true, replicas: 3 });
  // A new R3 stream takes a moment to elect its leader and spread its interest over the
  // routes; a put meanwhile meets no responders.
  await expect.poll(() => hubKv.put('site-a-n2', 'assigned').then(() => true, () => false), { timeout: 20_000, interval: 200 }).toBe(true);
  await cluster.mirrorAtSite('ep-assignments');
  // A node credential at the leaf: the same subjects it uses against the hub.
  const node = await connect(await cluster.leaf!.connectOptions({ node: 'site-a-n2' }));
  open.push(node);
  const kv = await new Kvm(node).open('ep-assignments', { allow_direct: true });
  await expect.poll(async () => (await kv.get('site-a-n2').catch(() => null))?.string(), { timeout: 30_000, interval: 200 }).toBe('assigned');
  await hubKv.put('site-a-n2', 'changed');
  await expect.poll(async () => (await kv.get('site-a-n2').catch(() => null))?.string(), { timeout: 30_000, interval: 200 }).toBe('changed');
});
