// `npm run bench -- fleet --nodes 5000 --json`: a simulated fleet in steady state against the
// control plane running as a child process, with a deployment Ready on every node. Over a
// window of --seconds (default 300, at most 300: one whole cycle of the full heartbeat, every
// 60th at 5 s, so each node's full one weighs in once): the control plane's CPU share and RSS from
// /proc, Redis memory from INFO, and heartbeat bytes per node per second on the wire, counted
// as the PUB frames the simulated agents write (NATS protocol overhead included).
//
// Baseline in the same run: the control plane's CPU and RSS with no fleet, over 10 s before the
// simulator starts.
//
// Idle traffic counts the link probe too (`idleBitsPerNodePerSec`): simulated agents do not
// probe, so the agent's own probe code runs against the same control plane with a node
// credential (a full probe as on an unmetered and as on a metered link, and a round-trip check),
// and each node's share follows the agent's probe policy once its figure exists: a full probe a
// week and a round-trip check every period (the agent's default; 12x longer when metered).
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { inboxPrefix } from '@edgeplane/trust';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { SETTINGS } from '../agent/src/config.ts';
import { measureLink, type LinkMeasurement } from '../agent/src/hardware/link-probe.ts';
import { DEFAULT_PROBE_POLICY, idleProbeBytesPerSec } from '../agent/src/hardware/probe-policy.ts';
import { PROFILES } from '../cli/src/simulate/profiles.ts';
import type { FleetStack } from '@edgeplane/env/fleet-stack';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startFleetStack } from '@edgeplane/env/fleet-stack';

/** Kernel clock ticks per second; 100 on every mainstream Linux configuration. */
const CLK_TCK = 100;

/** utime + stime of a process, seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Sums of the samples of each counter in a Prometheus text exposition, by metric and labels. */
export function parseCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+([-+\deE.]+|NaN)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** /metrics with the API server's admin token, which the control plane reviews like any other. */
async function scrape(address: string, token: string): Promise<Map<string, number>> {
  const res = await fetch(`${address}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status} ${await res.text()}`);
  return parseCounters(await res.text());
}

/** Per-second rates of the counters that explain the control plane's CPU. */
function activity(before: Map<string, number>, after: Map<string, number>, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!/^edgeplane_(reconcile_total|kube_writes_total|kv_writes_total|heartbeats_ingested_total|heartbeat_gaps_total|hellos_total)/.test(key)) continue;
    const rate = (value - (before.get(key) ?? 0)) / seconds;
    if (rate > 0) out[key] = round(rate, 2);
  }
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const count = delta('edgeplane_reconcile_duration_seconds_count{outcome="success"}');
  if (count > 0) out.meanReconcileMs = round((delta('edgeplane_reconcile_duration_seconds_sum{outcome="success"}') / count) * 1000);
  return out;
}

/** The agent's default probe period on an unmetered link, ms. */
function defaultProbePeriodMs(): number {
  return Number(SETTINGS.find((x) => x.key === 'linkProbeIntervalMs')?.fallback?.());
}

/** The agent's probes as it sends them (full, metered and unmetered, and a round-trip check), from a node's own connection. */
async function measureProbes(stack: FleetStack): Promise<{ unmetered: LinkMeasurement; metered: LinkMeasurement; rtt: LinkMeasurement }> {
  const node = `${stack.runId}-probe`;
  const nc = await connect({ ...(await stack.nats.connectOptions({ node })), inboxPrefix: inboxPrefix.node(node), name: node });
  try {
    return {
      unmetered: await measureLink(nc, node, { metered: false }),
      metered: await measureLink(nc, node, { metered: true }),
      rtt: await measureLink(nc, node, { metered: false, rttOnly: true }),
    };
  } finally {
    await nc.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

const fleet: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 5000);
  const seconds = Math.min(300, numberFlag(argv, 'seconds', 300));
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const idleSeconds = 10;

  let idle = { cpuPercent: NaN, rssMiB: NaN };
  const mixAt = argv.indexOf('--mix');
  const mix = mixAt >= 0 ? argv[mixAt + 1] : undefined;
  const stack = await startFleetStack({
    nodes,
    ...(mix ? { mix } : {}),
    controlPlane: 'child',
    heartbeatIntervalMs: heartbeatMs,
    helloTimeoutMs: 900_000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 30_000 },
    log,
    async beforeSimulation(cp) {
      const pid = cp.pid!;
      const c0 = cpuSeconds(pid);
      await sleep(idleSeconds * 1000);
      idle = { cpuPercent: round(((cpuSeconds(pid) - c0) / idleSeconds) * 100), rssMiB: round(rssMiB(pid)) };
      log(`control plane with no fleet: ${idle.cpuPercent} % CPU, ${idle.rssMiB} MiB RSS`);
    },
  });
  const redis = new Redis(stack.redis.url);
  try {
    const pid = stack.controlPlane.pid!;
    await waitForReadyNodes(stack.kc, stack.fleetSelector, nodes, Math.max(300_000, nodes * 120), (n) => n < nodes && log(`EdgeNodes Ready: ${n}/${nodes}`));
    const name = 'fleet';
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, name);
    await createDeployment(stack.kc, ocrDetection(stack.namespace, name, nodes, stack.fleetLabels));
    try {
      await watch.until((s) => (s.readyReplicas ?? 0) >= nodes, 120_000);
    } finally {
      watch.stop();
    }
    // Let the burst of convergence settle: full heartbeats and status writes return to their rhythm.
    log(`deployment Ready on all ${nodes} nodes; settling for ${heartbeatMs * 2} ms, then measuring for ${seconds} s`);
    await sleep(heartbeatMs * 2);

    const m0 = await scrape(stack.controlPlane.address, stack.kube.token);
    const s0 = stack.sim.stats();
    const c0 = cpuSeconds(pid);
    const t0 = Date.now();
    let peakRss = rssMiB(pid);
    for (let elapsed = 0; elapsed < seconds; elapsed += 5) {
      await sleep(Math.min(5, seconds - elapsed) * 1000);
      peakRss = Math.max(peakRss, rssMiB(pid));
      const s = stack.sim.stats();
      const dt = (Date.now() - t0) / 1000;
      log(`t=${dt.toFixed(0)}s control plane ${round(((cpuSeconds(pid) - c0) / dt) * 100)} % CPU, ${round(rssMiB(pid))} MiB; heartbeats ${s.heartbeats - s0.heartbeats}; ${round(((s.heartbeatFrameBytes - s0.heartbeatFrameBytes) * 8) / nodes / dt)} bit/node/s`);
    }
    const window = (Date.now() - t0) / 1000;
    const s1 = stack.sim.stats();
    const cpuPercent = ((cpuSeconds(pid) - c0) / window) * 100;
    const perSecond = activity(m0, await scrape(stack.controlPlane.address, stack.kube.token), window);
    log(`control plane activity per second: ${JSON.stringify(perSecond)}`);
    const info = await redis.info('memory');
    const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
    const beats = s1.heartbeats - s0.heartbeats;
    const frameBytes = s1.heartbeatFrameBytes - s0.heartbeatFrameBytes;
    const payloadBytes = s1.heartbeatPayloadBytes - s0.heartbeatPayloadBytes;
    // A real agent's heartbeat is one TCP segment: 20 B IPv4 + 32 B TCP with timestamps.
    const tcpIpBytes = beats * 52;
    const perNode = (bytes: number) => round((bytes * 8) / nodes / window);
    // Probe frames per node per second, each node by its profile's link.
    const probes = await measureProbes(stack);
    const policy = { ...DEFAULT_PROBE_POLICY, checkEveryMs: defaultProbePeriodMs() };
    const meteredNodes = stack.sim.nodes.filter((n) => PROFILES[n.profile].network.metered).length;
    const probeBitsPerSec = (full: LinkMeasurement, metered: boolean) => idleProbeBytesPerSec(full.frameBytes, probes.rtt.frameBytes, metered, policy) * 8;
    const probeBits = ((nodes - meteredNodes) * probeBitsPerSec(probes.unmetered, false) + meteredNodes * probeBitsPerSec(probes.metered, true)) / nodes;
    // What the fixed hourly full probe the policy replaced cost, for comparison.
    const hourlyBits = ((nodes - meteredNodes) * ((probes.unmetered.frameBytes * 8) / 3600) + meteredNodes * ((probes.metered.frameBytes * 8) / (12 * 3600))) / nodes;
    log(`link probe: full ${probes.unmetered.frameBytes} B in ${probes.unmetered.requests} requests (unmetered), ${probes.metered.frameBytes} B (metered), round-trip check ${probes.rtt.frameBytes} B; ${meteredNodes}/${nodes} nodes metered: ${round(probeBits)} bit/node/s (a full probe every hour would cost ${round(hourlyBits)})`);
    return {
      bench: 'fleet',
      nodes,
      cpuPercent: round(cpuPercent),
      rssMiB: round(rssMiB(pid)),
      // The figure the fleet-scale goal names (the same reading as rssMiB).
      controlPlaneRssMiB: round(rssMiB(pid)),
      redisMiB: round(usedMemory / 2 ** 20),
      heartbeatBitsPerNodePerSec: perNode(frameBytes),
      // What an idle node sends and receives: heartbeats plus its share of link probes.
      idleBitsPerNodePerSec: round((frameBytes * 8) / nodes / window + probeBits),
      probeBitsPerNodePerSec: round(probeBits),
      detail: {
        linkProbe: {
          fullProbeEverySeconds: policy.maxAgeMs / 1000,
          rttCheckEverySeconds: policy.checkEveryMs / 1000,
          meteredFactor: policy.meteredFactor,
          meteredNodes,
          rttCheck: { frameBytes: probes.rtt.frameBytes, requests: probes.rtt.requests },
          hourlyFullProbeBitsPerNodePerSec: round(hourlyBits),
          unmetered: { frameBytes: probes.unmetered.frameBytes, requests: probes.unmetered.requests, bandwidthMbps: probes.unmetered.bandwidthMbps },
          metered: { frameBytes: probes.metered.frameBytes, requests: probes.metered.requests, bandwidthMbps: probes.metered.bandwidthMbps },
          what: 'the agent\'s probe code against this control plane over loopback (a fast link: the largest probe); NATS frames both ways',
        },
        seconds: round(window),
        heartbeatIntervalMs: heartbeatMs,
        heartbeatsPerNodePerSec: round(beats / nodes / window, 3),
        meanHeartbeatPayloadBytes: round(payloadBytes / Math.max(1, beats)),
        payloadBitsPerNodePerSec: perNode(payloadBytes),
        withTcpIpHeadersBitsPerNodePerSec: perNode(frameBytes + tcpIpBytes),
        peakRssMiB: round(peakRss),
        redisBytesPerNode: Math.round(usedMemory / nodes),
        cpuPercentMeans: 'of one core',
        controlPlanePerSecond: perSecond,
      },
      baseline: { what: 'control plane with no fleet, 10 s before the simulator started', ...idle },
      goal: { heartbeatBitsPerNodePerSec: 250, idleBitsPerNodePerSec: 100, controlPlaneRssMiB: 400 },
    };
  } finally {
    log('stopping');
    redis.disconnect();
    await stack.stop();
  }
};

export default fleet;
