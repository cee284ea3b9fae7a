// `npm run bench -- converge --nodes 1000 --replicas 1000 --json`: from the apply of an
// EdgeModelDeployment to every placement Ready in its status, with a simulated fleet against
// the real control plane (child process), kube-apiserver, nats-server and redis-server.
// Simulated agents report as the agent does (the shared early-heartbeat policy, pinned by the
// parity test); their downloads and loads are modelled, not performed: size over the declared
// link bandwidth plus RTT, and 150 ms + size / 200 MB/s to load, at real time (--time-scale 1).
// Every figure of that run is under `simulated`.
//
// `npm run bench -- converge --real-agents 20 --json`: the check. The same deployment (the
// PP-OCR classifier's real, signed variants) on 20 real agent processes (enrolled, fetching
// from the object store, loading ONNX Runtime sessions), under `real`, and on 20 simulated
// nodes of the same hardware in the same run, under `simulated`.
//
// Baseline in the same run: when the simulated agents themselves held their assignments and
// reported Ready (the floor set by the fleet), beside when the status said so.
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfig, ensureNamespace } from '@edgeplane/env';
import type { KubeConfig } from '@kubernetes/client-node';
import { connect } from '@nats-io/transport-node';
import { Heartbeat, decode, nodeFromSubject, subjects, type EdgeModelDeploymentInput, type PlacementPhase } from '@edgeplane/api';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startFleetStack } from '@edgeplane/env/fleet-stack';
import { startStack } from '../scripts/up/stack.ts';
import { ocrDeployment, publishOcrVariants } from '../scripts/up/demo.ts';
import type { AgentSpec } from '../scripts/up/agents.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

interface Convergence {
  totalMs: number;
  placementReadyMsP50: number;
  placementReadyMsP99: number;
  unplaced: number;
}

/**
 * User + system CPU seconds of this process's descendants whose command line runs the agent,
 * from /proc (the real agents this run started, not any other process on the machine).
 */
function agentsCpuSeconds(): number {
  const parentOf = new Map<number, number>();
  const cpuOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('agent/src/cli.ts')) cpuOf.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // gone meanwhile
    }
  }
  let sum = 0;
  for (const [pid, cpu] of cpuOf) {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) {
      if (p === process.pid) {
        sum += cpu;
        break;
      }
    }
  }
  return sum;
}

/**
 * When each node first reported each phase in a heartbeat (delta heartbeats carry workloads
 * only when they changed, so the first report of a phase is when it was sent).
 */
class PhaseReports {
  readonly #first = new Map<string, Map<PlacementPhase, number>>();
  /** The first report of a loaded model waiting for its serve grant (Loading, AwaitingServeGrant). */
  readonly #awaitingGrant = new Map<string, number>();
  record(node: string, hb: Heartbeat, atMs: number): void {
    for (const w of hb.workloads ?? []) {
      const phases = this.#first.get(node) ?? new Map<PlacementPhase, number>();
      if (!phases.has(w.phase)) phases.set(w.phase, atMs);
      this.#first.set(node, phases);
      if (w.reason === 'AwaitingServeGrant' && !this.#awaitingGrant.has(node)) this.#awaitingGrant.set(node, atMs);
    }
  }
  /**
   * Nodes that reported a loaded model waiting for its serve grant, and each one's time from
   * that report to Ready: the credential renewal's round trip after the load.
   */
  grantWait(t0: number) {
    const d: number[] = [];
    for (const [node, at] of this.#awaitingGrant) {
      const ready = this.#first.get(node)?.get('Ready');
      if (at >= t0 && ready !== undefined) d.push(ready - at);
    }
    d.sort((a, b) => a - b);
    return { nodes: d.length, p50Ms: percentile(d, 0.5), p99Ms: percentile(d, 0.99) };
  }
  /** p50/p99 since t0 of the first report of `phase`, per node. */
  since(t0: number, phase: PlacementPhase) {
    const times = [...this.#first.values()].map((m) => m.get(phase)).filter((t): t is number => t !== undefined && t >= t0).map((t) => t - t0).sort((a, b) => a - b);
    return { nodes: times.length, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99) };
  }
  /** Each node's time from its first Downloading to its first Ready report. */
  downloadToReady(t0: number) {
    const d = [...this.#first.values()]
      .map((m) => ({ from: m.get('Downloading') ?? m.get('Loading'), to: m.get('Ready') }))
      .filter((x): x is { from: number; to: number } => x.from !== undefined && x.to !== undefined && x.from >= t0)
      .map((x) => x.to - x.from)
      .sort((a, b) => a - b);
    return { p50Ms: percentile(d, 0.5), p99Ms: percentile(d, 0.99) };
  }
}

/** Applies `body` and times every replica Ready in its status. */
async function converge(kc: KubeConfig, body: EdgeModelDeploymentInput, replicas: number, timeoutMs: number, log: (l: string) => void): Promise<Convergence & { t0: number }> {
  const namespace = body.metadata.namespace ?? 'default';
  const name = body.metadata.name!;
  const readyCountAt: number[] = [];
  let lastLogged = 0;
  const watch = await watchDeploymentStatus(kc, namespace, name, (s, at) => {
    const ready = s.readyReplicas ?? 0;
    for (let k = readyCountAt.length; k < ready; k++) readyCountAt.push(at);
    if (at - lastLogged > 500) {
      lastLogged = at;
      log(`status: ready ${ready}/${replicas}, phases ${JSON.stringify(s.phaseCounts ?? {})}`);
    }
  });
  const t0 = Date.now();
  await createDeployment(kc, body);
  let final;
  try {
    final = await watch.until((s) => (s.readyReplicas ?? 0) >= replicas, timeoutMs);
  } finally {
    watch.stop();
  }
  const totalMs = Date.now() - t0;
  const times = readyCountAt.map((at) => at - t0);
  return { t0, totalMs, placementReadyMsP50: percentile(times, 0.5), placementReadyMsP99: percentile(times, 0.99), unplaced: final.unplacedReplicas ?? 0 };
}

/** A simulated fleet: the deployment's convergence, and what the simulated agents saw. */
async function simulatedRun(o: {
  nodes: number;
  replicas: number;
  mix?: string;
  heartbeatMs: number;
  timeScale: number;
  timeoutMs: number;
  inProcess: boolean;
  deployment: (namespace: string, selector: Record<string, string>) => EdgeModelDeploymentInput;
  log: (l: string) => void;
}) {
  const { nodes, replicas, log } = o;
  const stack = await startFleetStack({
    nodes,
    ...(o.mix ? { mix: o.mix } : {}),
    controlPlane: o.inProcess ? 'in-process' : 'child',
    heartbeatIntervalMs: o.heartbeatMs,
    helloTimeoutMs: 300_000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 20_000, timing: { timeScale: o.timeScale } },
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
    const reports = new PhaseReports();
    const offBeat = stack.sim.onHeartbeat((e) => reports.record(e.node, e.heartbeat, e.atMs));
    let agentsReadyAt = NaN;
    const poll = setInterval(() => {
      if (Number.isNaN(agentsReadyAt) && stack.sim.stats().readyWorkloads >= replicas) agentsReadyAt = Date.now();
    }, 10);
    const before = stack.sim.stats();
    let result;
    try {
      result = await converge(stack.kc, o.deployment(stack.namespace, stack.fleetLabels), replicas, o.timeoutMs, log);
    } finally {
      offAssign();
      offBeat();
      clearInterval(poll);
    }
    const after = stack.sim.stats();
    const held = [...heldAt.values()].map((at) => at - result.t0).sort((a, b) => a - b);
    const { t0: _t0, ...figures } = result;
    return {
      ...figures,
      baseline: {
        what: 'simulated agents: time from apply until they held their assignment (KV) and until all executors reported Ready',
        assignmentHeldMsP50: percentile(held, 0.5),
        assignmentHeldMsP99: percentile(held, 0.99),
        agentsReadyMs: agentsReadyAt - result.t0,
      },
      reported: { what: 'first heartbeat reporting each phase, since apply', downloading: reports.since(result.t0, 'Downloading'), ready: reports.since(result.t0, 'Ready'), downloadToReady: reports.downloadToReady(result.t0) },
      heartbeats: after.heartbeats - before.heartbeats,
      earlyHeartbeats: after.earlyHeartbeats - before.earlyHeartbeats,
    };
  } finally {
    log('stopping the simulated fleet');
    await stack.stop();
  }
}

/** Real agent processes on the x86 fixture, mains and ethernet, enrolled by the control plane. */
async function realRun(o: { agents: number; heartbeatMs: number; timeoutMs: number; log: (l: string) => void }) {
  const { log } = o;
  const role = { 'edgeplane.io/role': 'converge-check' };
  const specs: AgentSpec[] = Array.from({ length: o.agents }, (_, i) => ({
    node: `real-${String(i + 1).padStart(3, '0')}`,
    fixture: 'x86-vnni-server',
    labels: { ...role, 'topology.edgeplane.io/site': `site-${(i % 4) + 1}` },
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 1000, metered: false },
  }));
  const stack = await startStack({ agents: specs, log, heartbeatIntervalMs: o.heartbeatMs });
  try {
    const kc = kubeConfig(stack.kube);
    await waitForReadyNodes(kc, 'edgeplane.io/role=converge-check', o.agents, 300_000, (n) => n < o.agents && log(`real EdgeNodes Ready: ${n}/${o.agents}`));
    const pushed = await publishOcrVariants(stack.nats, log);
    const doc = ocrDeployment(pushed);
    const namespace = 'converge-real';
    await ensureNamespace(kc, namespace);
    const body = {
      ...doc,
      metadata: { name: 'converge', namespace },
      spec: { ...doc.spec, replicas: o.agents, placement: { ...doc.spec.placement, selector: { matchLabels: role }, maxPerNode: 1 } },
    } as EdgeModelDeploymentInput;
    // What the agents reported and when, read off the bus as the control plane reads it.
    const nc = await connect(await stack.nats.connectOptions('admin'));
    const reports = new PhaseReports();
    nc.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const node = nodeFromSubject(msg.subject);
        const hb = decode(Heartbeat, 'heartbeat', msg.data);
        if (node && hb.ok) reports.record(node, hb.value, Date.now());
      },
    });
    try {
      log(`${o.agents} real agents Ready; applying ${doc.spec.model.name} with ${o.agents} replicas`);
      const loadBefore = load();
      // CPU the agents and this process (the control plane runs in it here) use while converging:
      // near the machine's two cores, the agents' load and download times are bound by CPU.
      const agentsCpuFrom = agentsCpuSeconds();
      const ownCpuFrom = process.cpuUsage();
      const { t0, ...figures } = await converge(kc, body, o.agents, o.timeoutMs, log);
      const wallS = (Date.now() - t0) / 1000;
      const agentsCpuS = agentsCpuSeconds() - agentsCpuFrom;
      const own = process.cpuUsage(ownCpuFrom);
      const controlPlaneCpuS = (own.user + own.system) / 1e6;
      const reported = {
        what: 'first heartbeat reporting each phase, since apply; grantWait: from a loaded model reported waiting for its serve grant to Ready',
        downloading: reports.since(t0, 'Downloading'),
        loading: reports.since(t0, 'Loading'),
        ready: reports.since(t0, 'Ready'),
        downloadToReady: reports.downloadToReady(t0),
        grantWait: reports.grantWait(t0),
      };
      const cpu = {
        what: "CPU seconds from apply to all Ready: the real agents' processes, and the benchmark process that runs the control plane in this check",
        wallS: Math.round(wallS * 100) / 100,
        agentsS: Math.round(agentsCpuS * 100) / 100,
        controlPlaneAndBenchS: Math.round(controlPlaneCpuS * 100) / 100,
        coresBusy: Math.round(((agentsCpuS + controlPlaneCpuS) / wallS) * 100) / 100,
      };
      return { ...figures, reported, cpu, agents: o.agents, loadAvgAtApply: loadBefore, body };
    } finally {
      await nc.close();
    }
  } finally {
    // The control plane's log outlives the run, to explain a status that lags the agents.
    const kept = join(tmpdir(), `converge-real-control-plane-${process.pid}.log`);
    await copyFile(join(stack.workDir, 'control-plane.log'), kept).then(
      () => log(`control-plane log kept in ${kept}`),
      () => undefined,
    );
    // So are the agents' logs (EP_AGENT_LOG_LEVEL=debug shows each phase change and heartbeat).
    const agentLogs = join(tmpdir(), `converge-real-agents-${process.pid}`);
    await mkdir(agentLogs, { recursive: true });
    const copied = await Promise.all(stack.agents.map((a) => copyFile(a.logFile, join(agentLogs, `${a.spec.node}.log`)).then(() => 1, () => 0)));
    if (copied.some((c) => c === 1)) log(`agent logs kept in ${agentLogs}`);
    log('stopping the real agents');
    await stack.stop();
  }
}

const convergeBench: Bench = async ({ argv, log }) => {
  const realAgents = numberFlag(argv, 'real-agents', 0);
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const timeoutMs = numberFlag(argv, 'timeout-s', 180) * 1000;
  const timeScale = numberFlag(argv, 'time-scale', 1);
  const inProcess = argv.includes('--in-process');
  const mixAt = argv.indexOf('--mix');
  const mix = mixAt >= 0 ? argv[mixAt + 1] : undefined;
  const loadAtStart = load();
  const modelled = {
    timeScale,
    what: `downloads and loads are modelled, not performed: size over the declared link bandwidth plus RTT, and 150 ms + size / 200 MB/s to load, times ${timeScale}`,
  };

  if (realAgents > 0) {
    // Real first; then the simulated fleet of the same size, hardware and deployment.
    const real = await realRun({ agents: realAgents, heartbeatMs, timeoutMs, log });
    const { body, ...realFigures } = real;
    log(`real: ${realAgents} replicas Ready in ${real.totalMs} ms`);
    const simulated = await simulatedRun({
      nodes: realAgents,
      replicas: realAgents,
      mix: 'x86-vnni:1',
      heartbeatMs,
      timeScale,
      timeoutMs,
      inProcess,
      deployment: (namespace, selector) => ({ ...body, metadata: { name: 'converge', namespace }, spec: { ...body.spec, placement: { ...body.spec.placement, selector: { matchLabels: selector } } } }) as EdgeModelDeploymentInput,
      log,
    });
    log(`simulated: ${realAgents} replicas Ready in ${simulated.totalMs} ms`);
    return {
      bench: 'converge',
      check: 'real agents against simulated nodes of the same hardware, deployment and heartbeat interval, one after the other',
      model: body.spec.model.name,
      replicas: realAgents,
      real: { what: 'real agent processes: enrolment, signed artifacts fetched from the object store, ONNX Runtime sessions loaded', ...realFigures },
      simulated: { what: 'simulated agents (shared early-heartbeat policy)', modelled, ...simulated },
      simulatedOverReal: Math.round((simulated.totalMs / real.totalMs) * 100) / 100,
      heartbeatIntervalMs: heartbeatMs,
      loadAvg: { start: loadAtStart, end: load() },
    };
  }

  const nodes = numberFlag(argv, 'nodes', 1000);
  const replicas = numberFlag(argv, 'replicas', nodes);
  const simulated = await simulatedRun({
    nodes,
    replicas,
    ...(mix ? { mix } : {}),
    heartbeatMs,
    timeScale,
    timeoutMs,
    inProcess,
    deployment: (namespace, selector) => ocrDetection(namespace, 'converge', replicas, selector),
    log,
  });
  log(`converged: ${replicas} replicas Ready in ${simulated.totalMs} ms (agents held assignments p99 ${simulated.baseline.assignmentHeldMsP99} ms, all executors Ready at ${simulated.baseline.agentsReadyMs} ms)`);
  return {
    bench: 'converge',
    nodes,
    replicas,
    simulated: { what: 'simulated agents (shared early-heartbeat policy) against the real control plane, kube-apiserver, nats-server, redis-server', modelled, ...simulated },
    heartbeatIntervalMs: heartbeatMs,
    controlPlane: inProcess ? 'in-process' : 'child process',
    goal: { totalMs: 5000 },
    loadAvg: { start: loadAtStart, end: load() },
  };
};

export default convergeBench;
