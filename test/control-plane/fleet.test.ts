// The fleet edge of the control plane against real servers: malformed hellos and heartbeats
// are dropped and counted while the process keeps serving, the bandwidth probe echoes the
// byte count, status writes survive conflicts, and operator labels win over agent labels.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, EMD_PLURAL, HelloReply, subjects } from '@edgeplane/api';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { controlPlaneNats } from '@edgeplane/env';
import { applyDeployment, customObjects, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { StatusWriter } from '../../control-plane/src/kube/status-writer.ts';
import { deploymentsKind } from '../../control-plane/src/kube/resources.ts';
import { ensureEdgeNode } from '../../control-plane/src/kube/edgenodes.ts';
import { LeaderElector } from '../../control-plane/src/kube/leader.ts';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';

const run = runId('cp-fleet');
const kube = inject('kube');
const kc = kubeConfig(kube);
let nats: NatsServer;
let redis: RedisServer;
let nc: NatsConnection;
let cp: ControlPlane;
const enc = new TextEncoder();

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run }));
  // Sends what no agent's credential could (other nodes' subjects, malformed names): an administrator.
  nc = await connect(await nats.connectOptions('admin'));
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
});

afterAll(async () => {
  await nc?.close();
  await cp?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('malformed fleet messages', () => {
  it('are dropped and counted by kind; the control plane keeps serving', async () => {
    const node = `${run}-bad`;
    const refusals: string[] = [];
    for (const payload of ['not json', JSON.stringify({ v: 1, node }), JSON.stringify({ v: 9 })]) {
      const reply = decode(HelloReply, 'hello reply', (await nc.request(subjects.hello(node), enc.encode(payload), { timeout: 5000 })).data);
      expect(reply.ok && reply.value.accepted).toBe(false);
      if (reply.ok) refusals.push(reply.value.reason ?? '');
    }
    expect(refusals.every((r) => r.length > 0)).toBe(true);
    for (const payload of ['{', JSON.stringify({ v: 1, seq: -1 }), JSON.stringify({ v: 1, seq: 1, power: { source: 'fusion' } })]) {
      nc.publish(subjects.status(node), enc.encode(payload));
    }
    // A subject that names no valid node.
    nc.publish('ep.v1.node.NOT_A_NODE.status', enc.encode(JSON.stringify({ v: 1, seq: 1 })));
    await nc.flush();

    const text = await waitFor('counted', async () => {
      const t = await scrape(cp.address);
      return metricValue(t, 'edgeplane_malformed_messages_total', { kind: 'heartbeat' }) >= 4 ? t : undefined;
    });
    expect(metricValue(text, 'edgeplane_malformed_messages_total', { kind: 'hello' })).toBe(3);
    expect(metricValue(text, 'edgeplane_malformed_messages_total', { kind: 'heartbeat' })).toBe(4);
    expect(metricValue(text, 'edgeplane_heartbeats_ingested_total')).toBe(0);
    expect((await fetch(`${cp.address}/healthz`)).status).toBe(200);
    expect((await fetch(`${cp.address}/readyz`)).status).toBe(200);

    // A hello whose message names another node than its subject is refused too.
    const agentLike = await TestAgent.start({
      nats,
      node: `${run}-good`,
      accelerators: [gpu()],
      power: { source: 'mains' },
      network: { type: 'wifi' },
      labels: { 'edgeplane.io/test-run': run },
    }).catch((err: unknown) => err);
    expect(agentLike).toBeInstanceOf(TestAgent);
    await (agentLike as TestAgent).stop();
    const spoofed = JSON.stringify({
      v: 1,
      node: `${run}-other`,
      agentVersion: '1',
      bootId: 'b',
      host: { arch: 'x64' },
      accelerators: [gpu()],
      power: { source: 'mains' },
      network: { type: 'wifi' },
    });
    const reply = decode(HelloReply, 'hello reply', (await nc.request(subjects.hello(`${run}-good`), enc.encode(spoofed), { timeout: 5000 })).data);
    expect(reply.ok && reply.value.accepted).toBe(false);
    expect(metricValue(await scrape(cp.address), 'edgeplane_malformed_messages_total', { kind: 'hello' })).toBe(4);
  });
});

describe('bandwidth probe', () => {
  it('replies with the number of bytes received', async () => {
    const reply = await nc.request(subjects.probe(`${run}-p`), new Uint8Array(123_456), { timeout: 5000 });
    expect(JSON.parse(reply.string())).toBe(123_456);
  });
});

describe('Kubernetes writes', () => {
  const log = pino({ level: 'silent' });

  it('status writer re-reads and re-applies on a conflict', async () => {
    // A namespace the running control plane does not watch, so only this test writes here.
    const ns = `${run}-raw`;
    await ensureNamespace(kc, ns);
    await applyDeployment(kc, detector(ns, 'conflict', 0));
    const stale = await getDeployment(kc, ns, 'conflict');
    // Someone else writes first, so the copy we hold is stale.
    await customObjects(kc).replaceNamespacedCustomObjectStatus({
      group: 'edgeplane.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: EMD_PLURAL,
      name: 'conflict',
      body: { ...(await getDeployment(kc, ns, 'conflict')), status: { ready: 'someone else' } },
    });
    let calls = 0;
    const writer = new StatusWriter({ custom: customObjects(kc), log });
    const stored = await writer.write(
      { kind: deploymentsKind, namespace: ns, name: 'conflict' },
      (current) => {
        calls++;
        return { ...(current.status as object), tiers: 'fp16:1' };
      },
      stale as never,
    );
    expect(stored).not.toBeNull();
    expect(calls).toBe(2);
    const s = (await getDeployment(kc, ns, 'conflict')).status;
    // Re-applied over what the other writer stored, not over the stale copy.
    expect(s).toMatchObject({ ready: 'someone else', tiers: 'fp16:1' });
  });

  it('agent labels never overwrite the operator', async () => {
    const custom = customObjects(kc);
    const name = `${run}-labels`;
    await ensureEdgeNode({ custom }, name, { site: 'a', zone: 'z1' });
    const node = (await custom.getClusterCustomObject({ group: 'edgeplane.io', version: 'v1alpha1', plural: 'edgenodes', name })) as { metadata: Record<string, unknown> & { labels: Record<string, string> } };
    // The operator relabels the site.
    await custom.replaceClusterCustomObject({ group: 'edgeplane.io', version: 'v1alpha1', plural: 'edgenodes', name, body: { ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, site: 'operator' } } } });
    const after = (await ensureEdgeNode({ custom }, name, { site: 'b', zone: 'z2', rack: 'r1' })) as { metadata?: { labels?: Record<string, string> } };
    expect(after.metadata?.labels).toEqual({ site: 'operator', zone: 'z2', rack: 'r1' });
  });
  it('one Lease, one leader; a released Lease passes on at the next retry', async () => {
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const leading: string[] = [];
    const elector = (identity: string) =>
      new LeaderElector({
        coordination,
        name: `${run}-election`,
        namespace: run,
        identity,
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 200,
        log,
        onStartedLeading: () => void leading.push(`+${identity}`),
        onStoppedLeading: () => void leading.push(`-${identity}`),
      });
    const [x, y] = [elector('x'), elector('y')];
    x.start();
    await waitFor('x leads', () => x.isLeader());
    y.start();
    await new Promise((r) => setTimeout(r, 700));
    expect([x.isLeader(), y.isLeader()]).toEqual([true, false]);
    expect(y.holder).toBe('x');
    await x.stop();
    // Released: y need not wait out the lease duration.
    await waitFor('y leads', () => y.isLeader(), 1000, 20);
    const lease = await coordination.readNamespacedLease({ name: `${run}-election`, namespace: run });
    expect(lease.spec?.holderIdentity).toBe('y');
    expect(lease.spec?.leaseTransitions).toBe(1);
    await y.stop();
    expect(leading).toEqual(['+x', '-x', '+y', '-y']);
  });
});
