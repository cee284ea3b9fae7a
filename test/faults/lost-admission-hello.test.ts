// Invariant: a node that heartbeats without being admitted (its hello or the reply was lost, a
// control plane restarted meanwhile, or its EdgeNode was removed while it ran) is not ignored for
// ever: the control plane replica that drops its heartbeat asks it to say hello again, and it is
// admitted (EdgeNode back, with a hello's status) within seconds. The asks are paced: at most one
// per node per hello interval (config.helloPerNodeIntervalMs), however fast it heartbeats.
//
// Real servers: a secure NATS, Redis, the shared kube-apiserver, the control plane in process and
// the real agent command as a child.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode, EN_PLURAL, GROUP, Heartbeat, NodeCommand, subjects, VERSION } from '@edgeplane/api';
import { controlPlaneNats, kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { waitFor } from '../helpers/agent.ts';
import { customObjects, ensureNamespace, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { DEFAULT_HELLO_PER_NODE_INTERVAL_MS, type Config } from '../../control-plane/src/config.ts';
import { startAgentChild, type AgentChild } from './lib/failure-kit.ts';

const run = runId('fault-admission');
const kube = inject('kube');
const kc = kubeConfig(kube);
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-admission-'));
let nats: NatsServer;
let redis: RedisServer;
let config: Config;
let cp: ControlPlane;
let agent: AgentChild;
let admin: NatsConnection;

type Stored = { metadata?: { uid?: string }; status?: { agentVersion?: string } };
const edgeNode = (name: string): Promise<Stored | null> =>
  customObjects(kc)
    .getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name })
    .then(
      (o) => o as Stored,
      () => null,
    );
const refusedUnknown = async () => metricValue(await scrape(cp.address), 'edgeplane_heartbeats_refused_total', { reason: 'unknown-node' });

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await ensureNamespace(kc, run);
  config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run });
  cp = await startControlPlane(config);
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  admin = await connect(await nats.connectOptions('admin'));
  agent = await startAgentChild({ nats, node: `${run}-n1`, run, dir, cacheDir: join(dir, 'cache') });
}, 60_000);

afterAll(async () => {
  await agent?.proc.stop();
  await admin?.close();
  await cp?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a node heartbeating without admission', () => {
  it('is asked to say hello again and is admitted within seconds (its EdgeNode removed while it runs)', async () => {
    const node = agent.node;
    await waitFor('EdgeNode with a hello status', async () => (await edgeNode(node))?.status?.agentVersion !== undefined, 10_000, 100);
    const before = (await edgeNode(node))!;
    const accepted = () => agent.logLines().filter((l) => l.msg === 'hello accepted').length;
    const acceptedBefore = accepted();
    const refusedBefore = await refusedUnknown();

    // The control plane forgets the node; the agent, still connected, knows nothing of it.
    await customObjects(kc).deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: node });
    const deletedAt = Date.now();
    // Admission takes one dropped heartbeat (an interval), the ask, a hello and the EdgeNode
    // write; the hello request's own timeout (3 s) bounds a slow round trip.
    const budgetMs = config.heartbeatIntervalMs + 3000 + 5000;
    await waitFor('EdgeNode recreated from a fresh hello', async () => {
      const now = await edgeNode(node);
      return now !== null && now.metadata?.uid !== before.metadata?.uid && now.status?.agentVersion !== undefined;
    }, budgetMs, 100);
    const admittedMs = Date.now() - deletedAt;
    console.info(`[fault] node admitted again ${admittedMs} ms after its EdgeNode was removed`);

    expect({
      // Dropped as unknown first: the situation the ask repairs.
      droppedAsUnknown: (await refusedUnknown()) > refusedBefore,
      asked: agent.logLines().some((l) => l.msg === 'the control plane asked for a hello; saying hello again'),
      helloAcceptedAgain: accepted() > acceptedBefore,
    }).toEqual({ droppedAsUnknown: true, asked: true, helloAcceptedAgain: true });
    // Its heartbeats count again: the unknown-node count stops growing.
    const settled = await refusedUnknown();
    await new Promise((r) => setTimeout(r, 5 * config.heartbeatIntervalMs));
    expect(await refusedUnknown()).toBe(settled);
  });

  it('asks a node that never says hello at most once per hello interval, however fast it heartbeats', async () => {
    const node = `${run}-mute`;
    const ops: (string | undefined)[] = [];
    const sub = admin.subscribe(subjects.command(node), {
      callback: (_e, m) => {
        const cmd = decode(NodeCommand, 'node command', m.data);
        ops.push(cmd.ok ? cmd.value.op : undefined);
      },
    });
    await admin.flush();
    const intervalMs = config.helloPerNodeIntervalMs ?? DEFAULT_HELLO_PER_NODE_INTERVAL_MS;
    // Ten times the configured heartbeat pace, for a fifth of the hello interval: 20 heartbeats
    // per ask allowed, all dropped as unknown.
    const beats = Math.round(intervalMs / 5 / (config.heartbeatIntervalMs / 10));
    for (let seq = 0; seq < beats; seq++) {
      admin.publish(subjects.status(node), encode(Heartbeat, 'heartbeat', { v: 1, seq }));
      await new Promise((r) => setTimeout(r, config.heartbeatIntervalMs / 10));
    }
    await admin.flush();
    await waitFor('the ask arrives', () => ops.length > 0, 5000, 20);
    // Anything further would have arrived by now.
    await new Promise((r) => setTimeout(r, 2 * config.heartbeatIntervalMs));
    sub.unsubscribe();
    expect({ beats: beats >= 20, ops }).toEqual({ beats: true, ops: ['hello'] });
  });
});
