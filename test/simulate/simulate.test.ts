// The simulator at 200 nodes against a real control plane (shared kube-apiserver, own
// nats-server and redis-server): a deployment over the whole fleet converges to all
// replicas Ready, and a battery drained below a threshold moves a node to a lower tier.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus, type StatusWatch } from '@edgeplane/env';
import { startFleetStack, type FleetStack } from '@edgeplane/env/fleet-stack';

const NODES = 200;

describe('simulated fleet of 200 against the control plane', () => {
  let stack: FleetStack;
  let watch: StatusWatch | undefined;

  beforeAll(async () => {
    stack = await startFleetStack({
      nodes: NODES,
      kube: inject('kube'),
      controlPlane: 'in-process',
      heartbeatIntervalMs: 1000,
      // Hellos a few at a time: each one writes an EdgeNode and its status to the apiserver.
      simulation: { connections: 2, helloConcurrency: 20, helloTimeoutMs: 15_000 },
    });
    await waitForReadyNodes(stack.kc, stack.fleetSelector, NODES, 60_000);
  });

  afterAll(async () => {
    watch?.stop();
    await stack?.stop();
  });

  it('every node is an EdgeNode, Ready, and the deployment converges to all replicas Ready', async () => {
    const name = 'ocr-det';
    watch = await watchDeploymentStatus(stack.kc, stack.namespace, name);
    await createDeployment(stack.kc, ocrDetection(stack.namespace, name, NODES, stack.fleetLabels));
    const status = await watch.until((s) => s.readyReplicas === NODES, 50_000);
    expect(status.replicas).toBe(NODES);
    expect(status.unplacedReplicas ?? 0).toBe(0);
    expect(status.phaseCounts?.Ready).toBe(NODES);
    expect(status.placements?.length).toBe(NODES);
    // Every simulated agent holds a workload and its executor reports it Ready.
    expect(stack.sim.stats().readyWorkloads).toBe(NODES);
    // Battery nodes on LTE get the lite variant; mains nodes on ethernet a full one.
    const rpi = stack.sim.nodes.find((n) => n.profile === 'rpi-battery')!.name;
    const x86 = stack.sim.nodes.find((n) => n.profile === 'x86-vnni')!.name;
    expect(stack.sim.assignmentOf(rpi)?.assignment.workloads[0]?.variant.profile).toBe('lite');
    expect(stack.sim.assignmentOf(x86)?.assignment.workloads[0]?.variant.profile).toBe('full');
  });
});
