// `npm run bench -- retier --nodes 1000 --json`: with a deployment Ready on every node of a
// simulated fleet, the batteries of 100 nodes cross a tier threshold at once (half fall to
// 45 %, below fp16BelowPercent 50; half to 15 %, below int8BelowPercent 20). The simulated
// agents report it as the agent does (the shared early-heartbeat policy, pinned by the parity
// test): power is read once a second, a crossing goes out in an early heartbeat. Measured per
// node: from the heartbeat that carries the new level to the moment its simulated agent holds
// the re-tiered assignment (KV update observed by the agent), `p99Ms`; and from the battery's
// change itself, the agent's reading period included, `fromCrossing`.
//
// Baseline in the same run: the KV path alone, from a put of an unchanged assignment by a
// plain client to the agent holding it, on 100 other nodes.
import { loadavg } from 'node:os';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { stores } from '@edgeplane/api';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startFleetStack } from '@edgeplane/env/fleet-stack';
import { processCpuMs } from './servers-cpu.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);


/** The control plane's counters that say what its CPU went to; null when /metrics does not answer. */
async function counters(address: string): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`${address}/metrics`);
    if (!res.ok) return null;
    const text = await res.text();
    const sum = (name: string, label = '') => {
      let total = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{') || !line.includes(label)) continue;
        total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
      }
      return total;
    };
    return {
      heartbeats: sum('edgeplane_heartbeats_ingested_total'),
      reconciles: sum('edgeplane_reconcile_total'),
      nodeStatusWrites: sum('edgeplane_kube_writes_total', 'resource="edgenodes/status"'),
      deploymentStatusWrites: sum('edgeplane_kube_writes_total', 'resource="edgemodeldeployments/status"'),
      kubeWrites: sum('edgeplane_kube_writes_total'),
    };
  } catch {
    return null;
  }
}

/** Per second over `ms` when given, else the plain difference; null when either side is unknown. */
function countsBetween(a: Record<string, number> | null, b: Record<string, number> | null, ms?: number): Record<string, number> | null {
  if (!a || !b) return null;
  return Object.fromEntries(Object.keys(a).map((k) => [k, ms ? Math.round(((b[k]! - a[k]!) * 1000 * 10) / ms) / 10 : b[k]! - a[k]!]));
}

const retier: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 1000);
  const crossing = numberFlag(argv, 'crossing', Math.min(100, Math.floor(nodes / 4)));
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const timeoutMs = numberFlag(argv, 'timeout-s', 60) * 1000;
  const timeScale = numberFlag(argv, 'time-scale', 1);
  // How long the idle fleet's CPU rate (and what it went to) is measured before the crossings.
  const idleWindowMs = numberFlag(argv, 'idle-s', 2) * 1000;
  const loadAtStart = load();
  // `--cpu-prof-dir DIR`: the control plane (child) writes a CPU profile there; the JSON gives
  // the re-tier window on the same monotonic clock, to read the profile over that window only.
  const profAt = argv.indexOf('--cpu-prof-dir');
  const profDir = profAt >= 0 ? argv[profAt + 1] : undefined;

  const mixAt = argv.indexOf('--mix');
  const mix = mixAt >= 0 ? argv[mixAt + 1] : undefined;
  const stack = await startFleetStack({
    nodes,
    ...(mix ? { mix } : {}),
    controlPlane: argv.includes('--in-process') ? 'in-process' : 'child',
    heartbeatIntervalMs: heartbeatMs,
    // /metrics open to the benchmark, which counts reconciles and status writes on it.
    env: { EP_METRICS_AUTH: 'none', ...(profDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` } : {}) },
    helloTimeoutMs: 300_000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 20_000, timing: { timeScale } },
    log,
  });
  // Reads the simulated nodes' assignments as an operator would: an administrator's credentials.
  const nc = await connect(await stack.nats.connectOptions('admin'));
  try {
    await waitForReadyNodes(stack.kc, stack.fleetSelector, nodes, 120_000, (n) => n < nodes && log(`EdgeNodes Ready: ${n}/${nodes}`));
    const name = 'retier';
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, name);
    await createDeployment(stack.kc, ocrDetection(stack.namespace, name, nodes, stack.fleetLabels));
    try {
      await watch.until((s) => (s.readyReplicas ?? 0) >= nodes, timeoutMs);
    } finally {
      watch.stop();
    }
    log(`deployment Ready on all ${nodes} nodes`);

    // Nodes now at fp32 on mains: a battery crossing must move them down a tier.
    const atFp32 = stack.sim.nodes
      .map((n) => n.name)
      .filter((n) => stack.sim.assignmentOf(n)?.assignment.workloads[0]?.variant.precision === 'fp32');
    if (atFp32.length < crossing * 2) throw new Error(`only ${atFp32.length} nodes run fp32; need ${crossing * 2}`);
    const chosen = atFp32.slice(0, crossing);
    const others = atFp32.slice(crossing, crossing * 2);

    // Baseline: an unchanged assignment put again reaches the agent through KV alone.
    const kv = await new Kvm(nc).open(stores.assignments);
    const baseline: number[] = [];
    const baseSent = new Map<string, number>();
    const offBase = stack.sim.onAssignment((e) => {
      const sent = baseSent.get(e.node);
      if (sent !== undefined) {
        baseline.push(e.receivedAtMs - sent);
        baseSent.delete(e.node);
      }
    });
    await Promise.all(
      others.map(async (node) => {
        const held = stack.sim.assignmentOf(node)!;
        baseSent.set(node, Date.now());
        await kv.put(node, JSON.stringify(held.assignment));
      }),
    );
    const baseDeadline = Date.now() + 10_000;
    while (baseSent.size > 0 && Date.now() < baseDeadline) await new Promise((r) => setTimeout(r, 10));
    offBase();
    log(`baseline: KV put to agent held, ${baseline.length} nodes, p50 ${percentile(sortNum(baseline), 0.5)} ms`);

    // The crossing as the control plane hears it: the first heartbeat carrying the new level,
    // early (the policy) or regular (had the tick come first).
    const level = new Map(chosen.map((node, i) => [node, i % 2 === 0 ? 45 : 15]));
    const crossedAt = new Map<string, number>();
    const sentAt = new Map<string, number>();
    let sentEarly = 0;
    const offBeat = stack.sim.onHeartbeat((e) => {
      const want = level.get(e.node);
      if (want === undefined || sentAt.has(e.node) || !crossedAt.has(e.node) || e.heartbeat.power?.batteryPercent !== want) return;
      sentAt.set(e.node, e.atMs);
      if (e.early?.includes('battery')) sentEarly += 1;
    });
    const latencies = new Map<string, number>();
    const fromCrossing = new Map<string, number>();
    const fromWant = new Map<string, string>();
    const off = stack.sim.onAssignment((e) => {
      const sent = sentAt.get(e.node);
      const precision = e.assignment.workloads[0]?.variant.precision;
      if (sent === undefined || latencies.has(e.node) || precision === undefined || precision === 'fp32') return;
      latencies.set(e.node, e.receivedAtMs - sent);
      fromCrossing.set(e.node, e.receivedAtMs - crossedAt.get(e.node)!);
      fromWant.set(e.node, precision);
    });
    // The control plane's CPU while the fleet idles, over as long as a re-tier window usually takes,
    // so the window's CPU can be counted net of the fleet's regular heartbeats.
    const idleFrom = Date.now();
    const idleCpuFrom = processCpuMs(stack.controlPlane.pid);
    const idleCountsFrom = await counters(stack.controlPlane.address);
    await new Promise((r) => setTimeout(r, idleWindowMs));
    const idleCountsTo = await counters(stack.controlPlane.address);
    const idleCpuMsPerSec = ((processCpuMs(stack.controlPlane.pid) - idleCpuFrom) * 1000) / (Date.now() - idleFrom);
    const idleCounts = countsBetween(idleCountsFrom, idleCountsTo, Date.now() - idleFrom);
    const windowStartUs = Number(process.hrtime.bigint() / 1000n);
    const windowFrom = Date.now();
    const cpuFrom = processCpuMs(stack.controlPlane.pid);
    for (const node of chosen) {
      crossedAt.set(node, Date.now());
      stack.sim.setBattery(node, level.get(node)!, false);
    }
    log(`${chosen.length} batteries crossed a threshold; waiting for re-tiered assignments`);
    const deadline = Date.now() + timeoutMs;
    while (latencies.size < chosen.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const windowEndUs = Number(process.hrtime.bigint() / 1000n);
    const windowMs = Date.now() - windowFrom;
    const windowCpuMs = processCpuMs(stack.controlPlane.pid) - cpuFrom;
    const windowCounts = countsBetween(idleCountsTo, await counters(stack.controlPlane.address));
    off();
    offBeat();
    const got = sortNum([...latencies.values()]);
    const sinceCrossing = sortNum([...fromCrossing.values()]);
    const tiers: Record<string, number> = {};
    for (const p of fromWant.values()) tiers[p] = (tiers[p] ?? 0) + 1;
    log(`re-tiered ${got.length}/${chosen.length}: p50 ${percentile(got, 0.5)} ms, p99 ${percentile(got, 0.99)} ms, max ${got.at(-1)} ms; new tiers ${JSON.stringify(tiers)}`);
    const base = sortNum(baseline);
    return {
      bench: 'retier',
      simulatedAgents: 'agents are simulated (shared early-heartbeat policy, power read every second); control plane, kube-apiserver, nats-server (KV) and redis-server are real',
      what: 'p50Ms/p99Ms: from the heartbeat carrying the new battery level to the agent holding the re-tiered assignment',
      p50Ms: percentile(got, 0.5),
      p99Ms: percentile(got, 0.99),
      maxMs: got.at(-1) ?? NaN,
      fromCrossing: { what: "from the battery's change, the agent's reading period and coalescing included", p50Ms: percentile(sinceCrossing, 0.5), p99Ms: percentile(sinceCrossing, 0.99) },
      nodes,
      crossing: chosen.length,
      sentEarly,
      retiered: got.length,
      newTiers: tiers,
      baseline: { what: 'KV put of an unchanged assignment to the simulated agent holding it', p50Ms: percentile(base, 0.5), p99Ms: percentile(base, 0.99), samples: base.length },
      controlPlaneCpu: {
        what: "the control plane process's CPU (all threads, /proc) from the crossings until the last re-tiered assignment arrived, and that net of its CPU rate while the fleet idled just before, per crossing; idleCountsPerSec and windowCounts: heartbeats ingested, reconciles and Kubernetes writes from its /metrics, per second while idle and in all over the window",
        windowMs,
        cpuMs: windowCpuMs,
        idleCpuMsPerSec: Math.round(idleCpuMsPerSec * 10) / 10,
        idleWindowMs,
        idleCountsPerSec: idleCounts,
        windowCounts,
        netPerEventMs: Math.round(((windowCpuMs - (idleCpuMsPerSec * windowMs) / 1000) / Math.max(1, chosen.length)) * 100) / 100,
      },
      heartbeatIntervalMs: heartbeatMs,
      phaseTimeScale: timeScale,
      goal: { p99Ms: 150 },
      loadAvg: { start: loadAtStart, end: load() },
      ...(profDir ? { profile: { dir: profDir, windowStartUs, windowEndUs } } : {}),
    };
  } finally {
    log('stopping');
    await nc.close();
    await stack.stop();
  }
};

export default retier;
