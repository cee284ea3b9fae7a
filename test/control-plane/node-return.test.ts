// Invariant: whenever the node monitor has called a node NotReady (what holds its assignment
// entry back, see AssignmentPublisher's `holds`, and what planning reads), its return to Ready
// is announced, so the held entry is written, and the deployments short of replicas are queued
// to place them. Also when the liveness sweep read the node's last heartbeat a moment before it
// landed in Redis and the change check right after read it Ready: that flicker used to leave a
// held write, and a plan made meanwhile with no node to place on, until the next resync (a minute).
//
// Real Redis and kube-apiserver (the EdgeNode informer and status writes); the interleaving is
// made, not waited for: the heartbeat is written right after the sweep read the last-seen times.
import { API_VERSION, EN_KIND, EN_PLURAL, GROUP, VERSION, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { kubeConfig, startRedis, until, type RedisServer } from '@edgeplane/env';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TelemetryStore } from '../../control-plane/src/fleet/telemetry-store.ts';
import { TelemetryField } from '../../control-plane/src/fleet/telemetry.ts';
import { kubeClients } from '../../control-plane/src/kube/client.ts';
import { ResourceInformer } from '../../control-plane/src/kube/informers.ts';
import { deploymentsKind, nodesKind } from '../../control-plane/src/kube/resources.ts';
import { StatusWriter } from '../../control-plane/src/kube/status-writer.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { NodeMonitor } from '../../control-plane/src/reconcile/node-monitor.ts';
import { PlacementIndex } from '../../control-plane/src/reconcile/placement-index.ts';
import { applyDeployment, detector, ensureNamespace, runId } from '../helpers/control-plane.ts';

const GRACE_MS = 300;
const run = runId('node-return');
const node = `${run}-n1`;
/** A deployment with no replica placed (the index is empty here). */
const short = `${run}/short`;
const kc = kubeConfig(inject('kube'));
const { custom } = kubeClients(kc);
const log = pino({ level: process.env.EP_TEST_LOG_LEVEL ?? 'silent' });

/** Real Redis; `afterLastSeen` runs once, after the next sweep read the last-seen times and before it judges them. */
class InterleavedTelemetry extends TelemetryStore {
  afterLastSeen: (() => Promise<void>) | undefined;

  override async lastSeen(nodes: readonly string[]): Promise<(number | null)[]> {
    const seen = await super.lastSeen(nodes);
    const hook = this.afterLastSeen;
    this.afterLastSeen = undefined;
    await hook?.();
    return seen;
  }
}

let redisServer: RedisServer;
let redis: Redis;
let nodes: ResourceInformer<EdgeNode>;
let deployments: ResourceInformer<EdgeModelDeployment>;
let monitor: NodeMonitor | undefined;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  await ensureNamespace(kc, run);
  const base = { group: GROUP, version: VERSION, plural: EN_PLURAL };
  await custom.createClusterCustomObject({ ...base, body: { apiVersion: API_VERSION, kind: EN_KIND, metadata: { name: node, labels: { 'edgeplane.io/test-run': run } }, spec: {} } });
  const accelerators = [{ id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32', 'int8'], tops: { fp32: 0.5, int8: 2 } }];
  await custom.patchClusterCustomObjectStatus({ ...base, name: node, body: { status: { accelerators } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  nodes = new ResourceInformer<EdgeNode>({ kc, custom, kind: nodesKind, labelSelector: `edgeplane.io/test-run=${run}`, log });
  deployments = new ResourceInformer<EdgeModelDeployment>({ kc, custom, kind: deploymentsKind, namespaces: [run], log });
  await Promise.all([nodes.start(), deployments.start()]);
  await applyDeployment(kc, detector(run, 'short', 1));
  await until(() => nodes.get(node)?.status?.accelerators?.length === 1 && deployments.get(short) !== undefined, 'the EdgeNode and the deployment in the informer caches', 10_000);
}, 60_000);

afterAll(async () => {
  await monitor?.stop();
  await Promise.all([nodes?.stop(), deployments?.stop()]);
  await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: node }).catch(() => undefined);
  redis?.disconnect();
  await redisServer?.stop();
});

describe('node monitor: a node called NotReady is announced when it is Ready again', () => {
  it('announces the return and queues the short deployment when the sweep read the heartbeat late and the change check read it in time', async () => {
    const telemetry = new InterleavedTelemetry(redis);
    const heartbeat = async () => {
      const now = Date.now();
      await telemetry.write([{ node, fields: { [TelemetryField.seq]: String(now), [TelemetryField.lastSeenMs]: String(now) }, lastSeenMs: now }]);
    };
    const returned: string[] = [];
    const enqueued: string[] = [];
    let evaluations = 0;
    const m = new NodeMonitor({
      nodes,
      deployments,
      telemetry,
      statusWriter: new StatusWriter({ custom, log }),
      index: new PlacementIndex(),
      metrics: createMetrics(),
      log,
      // Only the sweeps this test runs: the timer's next one is a minute away.
      heartbeatIntervalMs: 60_000,
      lifecycle: { gracePeriodMs: GRACE_MS, evictionDelayMs: 60_000, fullDisruptionFraction: 0.55, fullDisruptionMinNodes: 3 },
      enqueue: (key) => enqueued.push(key),
      requestFullHeartbeats: () => {},
      onNodeReturned: (n) => returned.push(n),
    });
    monitor = m;
    const readMany = telemetry.readMany.bind(telemetry);
    telemetry.readMany = async (names) => {
      const out = await readMany(names);
      evaluations++;
      return out;
    };

    await heartbeat();
    await m.start();
    // The change check has looked at the node once: Ready, with its accelerators.
    await until(() => evaluations > 0 && m.lifecycle(node)?.ready === true, 'the node Ready after the first sweep', 5_000);
    await new Promise((r) => setTimeout(r, 100));

    // Silent past the grace period; the heartbeat that ends the silence lands right after the
    // sweep read the last-seen times, so the sweep calls the node NotReady ...
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    const before = evaluations;
    enqueued.length = 0;
    telemetry.afterLastSeen = heartbeat;
    await m.sweep();
    expect(m.lifecycle(node)).toEqual({ ready: false, evicted: false });
    // ... and the change check the sweep asked for reads it Ready again.
    await until(() => evaluations > before && m.lifecycle(node)?.ready === true, 'the node Ready again after the change check', 5_000);
    expect(returned).toEqual([node]);
    expect(enqueued).toContain(short);
  });
});
