// Re-tiering is level-based: heartbeats that change nothing tier-relevant (load, rates, the
// heartbeat time) cost no reconcile and no status write, and a battery crossing costs one
// re-plan that reaches the node. A small simulated fleet against a real control plane
// (shared kube-apiserver, own nats-server and redis-server), counted on its /metrics.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startFleetStack, type FleetStack } from '@edgeplane/env/fleet-stack';
import { metricValue, scrape } from '../helpers/control-plane.ts';

const NODES = 6;
const HEARTBEAT_MS = 250;

interface Counts {
  heartbeats: number;
  reconciles: number;
  nodeStatusWrites: number;
  deploymentStatusWrites: number;
}

describe('re-tiering at the heartbeat pace', () => {
  let stack: FleetStack;

  const counts = async (): Promise<Counts> => {
    const text = await scrape(stack.controlPlane.address);
    return {
      heartbeats: metricValue(text, 'edgeplane_heartbeats_ingested_total'),
      reconciles: metricValue(text, 'edgeplane_reconcile_total'),
      nodeStatusWrites: metricValue(text, 'edgeplane_kube_writes_total', { resource: 'edgenodes/status' }),
      deploymentStatusWrites: metricValue(text, 'edgeplane_kube_writes_total', { resource: 'edgemodeldeployments/status' }),
    };
  };

  beforeAll(async () => {
    stack = await startFleetStack({
      nodes: NODES,
      kube: inject('kube'),
      controlPlane: 'in-process',
      heartbeatIntervalMs: HEARTBEAT_MS,
      // No periodic full reconcile inside the test: every reconcile counted has a cause.
      env: { EP_RESYNC_MS: '600000' },
      simulation: { helloConcurrency: NODES, helloTimeoutMs: 15_000, timing: { timeScale: 0.05 } },
    });
    await waitForReadyNodes(stack.kc, stack.fleetSelector, NODES, 30_000);
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, 'retier');
    await createDeployment(stack.kc, ocrDetection(stack.namespace, 'retier', NODES, stack.fleetLabels));
    try {
      await watch.until((s) => s.readyReplicas === NODES, 40_000);
    } finally {
      watch.stop();
    }
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('heartbeats that change nothing tier-relevant trigger no reconcile and no status write', async () => {
    // One node on battery, well above every threshold; whatever that changes settles first.
    const onBattery = stack.sim.nodes.at(-1)!.name;
    stack.sim.setBattery(onBattery, 90, false);
    // Past the convergence's last status writes: quiet once two readings a second apart agree.
    let before = await counts();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await counts();
      const quiet = now.reconciles === before.reconciles && now.nodeStatusWrites === before.nodeStatusWrites && now.deploymentStatusWrites === before.deploymentStatusWrites;
      before = now;
      if (quiet) break;
    }
    // A battery draining within its class reaches the control plane as a power change, and is
    // no tier change: it must cost nothing either.
    stack.sim.setBattery(onBattery, 80, false);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await counts();
    // The fleet kept heartbeating (with load and rates changing) the whole time.
    expect(after.heartbeats - before.heartbeats).toBeGreaterThanOrEqual(NODES * 8);
    expect(after.reconciles - before.reconciles).toBe(0);
    expect(after.nodeStatusWrites - before.nodeStatusWrites).toBe(0);
    expect(after.deploymentStatusWrites - before.deploymentStatusWrites).toBe(0);
  }, 40_000);

  it('a battery crossing re-tiers its node and writes its status once the re-plan is out', async () => {
    const node = stack.sim.nodes.map((n) => n.name).find((n) => stack.sim.assignmentOf(n)?.assignment.workloads[0]?.variant.precision === 'fp32');
    expect(node, 'a node running fp32').toBeDefined();
    const before = await counts();
    const retiered = new Promise<string>((resolve) => {
      const off = stack.sim.onAssignment((e) => {
        const precision = e.assignment.workloads[0]?.variant.precision;
        if (e.node === node && precision !== undefined && precision !== 'fp32') {
          off();
          resolve(precision);
        }
      });
    });
    stack.sim.setBattery(node!, 15, false);
    expect(await retiered).toBe('int8');
    // The node's status says so too (battery class), soon after the re-plan.
    for (let i = 0; i < 50 && (await counts()).nodeStatusWrites === before.nodeStatusWrites; i++) await new Promise((r) => setTimeout(r, 100));
    const after = await counts();
    expect(after.reconciles - before.reconciles).toBeGreaterThanOrEqual(1);
    expect(after.nodeStatusWrites - before.nodeStatusWrites).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
