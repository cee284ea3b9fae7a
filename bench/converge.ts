// `npm run bench -- converge --nodes 1000 --replicas 1000 --json`: from the apply of an
// EdgeModelDeployment to every placement Ready in its status, with a simulated fleet against
// the real control plane (child process), kube-apiserver, nats-server and redis-server.
//
// Baseline in the same run: when the simulated agents themselves held their assignments and
// reported Ready (the floor set by the fleet), beside when the status said so.
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '../test/simulate/deployment.ts';
import { startFleetStack } from '../test/simulate/stack.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;

const converge: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 1000);
  const replicas = numberFlag(argv, 'replicas', nodes);
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const timeoutMs = numberFlag(argv, 'timeout-s', 120) * 1000;
  const inProcess = argv.includes('--in-process');

  const mixAt = argv.indexOf('--mix');
  const mix = mixAt >= 0 ? argv[mixAt + 1] : undefined;
  const stack = await startFleetStack({
    nodes,
    ...(mix ? { mix } : {}),
    controlPlane: inProcess ? 'in-process' : 'child',
    heartbeatIntervalMs: heartbeatMs,
    helloTimeoutMs: 300_000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 20_000 },
    log,
  });
  try {
    await waitForReadyNodes(stack.kc, stack.fleetSelector, nodes, 120_000, (n) => n < nodes && log(`EdgeNodes Ready: ${n}/${nodes}`));
    log(`${nodes} EdgeNodes Ready; applying a deployment of ${replicas} replicas`);

    // Agent side: when each node first held an assignment, and when its executor went Ready.
    const heldAt = new Map<string, number>();
    const offAssign = stack.sim.onAssignment((e) => {
      if (e.assignment.workloads.length > 0 && !heldAt.has(e.node)) heldAt.set(e.node, e.receivedAtMs);
    });
    // Status side: when the status first counted k Ready replicas, for every k.
    const readyCountAt: number[] = [];
    let lastLogged = 0;
    const name = 'converge';
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, name, (s, at) => {
      const ready = s.readyReplicas ?? 0;
      for (let k = readyCountAt.length; k < ready; k++) readyCountAt.push(at);
      if (at - lastLogged > 500) {
        lastLogged = at;
        log(`status: ready ${ready}/${replicas}, phases ${JSON.stringify(s.phaseCounts ?? {})}`);
      }
    });

    const t0 = Date.now();
    await createDeployment(stack.kc, ocrDetection(stack.namespace, name, replicas, stack.fleetLabels));
    const agentsReady = (async () => {
      for (;;) {
        if (stack.sim.stats().readyWorkloads >= replicas) return Date.now();
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let final;
    try {
      final = await watch.until((s) => (s.readyReplicas ?? 0) >= replicas, timeoutMs);
    } finally {
      watch.stop();
      offAssign();
    }
    const totalMs = Date.now() - t0;
    const agentsReadyMs = (await Promise.race([agentsReady, new Promise<number>((r) => setTimeout(() => r(NaN), 2000))])) - t0;
    const statusTimes = readyCountAt.map((at) => at - t0);
    const held = [...heldAt.values()].map((at) => at - t0).sort((a, b) => a - b);
    const result = {
      bench: 'converge',
      nodes,
      replicas,
      totalMs,
      placementReadyMsP99: percentile(statusTimes, 0.99),
      placementReadyMsP50: percentile(statusTimes, 0.5),
      unplaced: final.unplacedReplicas ?? 0,
      baseline: {
        what: 'simulated agents: time from apply until they held their assignment (KV) and until all executors reported Ready',
        assignmentHeldMsP50: percentile(held, 0.5),
        assignmentHeldMsP99: percentile(held, 0.99),
        agentsReadyMs,
      },
      heartbeatIntervalMs: heartbeatMs,
      controlPlane: inProcess ? 'in-process' : 'child process',
      goal: { totalMs: 5000 },
    };
    log(`converged: ${replicas} replicas Ready in ${totalMs} ms (agents held assignments p99 ${result.baseline.assignmentHeldMsP99} ms, all executors Ready at ${agentsReadyMs} ms)`);
    return result;
  } finally {
    log('stopping');
    await stack.stop();
  }
};

export default converge;
