// `npm run bench -- hello --nodes 5000 --json`: a fleet of simulated agents saying hello at once
// to the real control plane (a child process) over secure NATS, with kube-apiserver, etcd and
// redis-server on loopback. Measures the time from the simulator's start to the last hello
// accepted, then until every EdgeNode is stored with its status, the API calls the control
// plane made (the API server's own request counters for EdgeNodes), the busy answers, and CPU.
//
// Then the same fleet says hello again (a new simulator with the same names, as after a NATS
// reconnect or a control-plane failover): every EdgeNode exists, so this is the hello of a
// known node, as it is for an enrolled one.
//
// Baseline in the same run, once the control plane has stopped: the Kubernetes work of a new
// node's hello alone (EdgeNode read, absent; created; status replaced), one node at a time per
// worker, with the control plane's client, as many workers as the control plane's hello bound.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { API_VERSION, EN_KIND } from '@edgeplane/api';
import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { installCrds, kubeConfig, startKube } from '@edgeplane/env';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { cpuSeconds, parseCounters } from './fleet.ts';
import { startFleetStack } from '@edgeplane/env/fleet-stack';
import { startSimulation } from '../cli/src/simulate/index.ts';
import { kubeClients, loadKubeConfig } from '../control-plane/src/kube/client.ts';
import { crd, nodesKind } from '../control-plane/src/kube/resources.ts';
import { DEFAULT_HELLO_MAX_IN_FLIGHT } from '../control-plane/src/config.ts';
import { serversCpuSeconds } from './servers-cpu.ts';

/** The agent's own hello timeout (agent/src/fleet/session.ts): a slower reply is a retry. */
const AGENT_HELLO_TIMEOUT_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** GET over the client's TLS and credentials: the API server's /metrics, or the control plane's. */
async function apiServerMetrics(kc: KubeConfig): Promise<Map<string, number>> {
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const opts: Parameters<typeof request>[1] = { method: 'GET' };
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
  return parseCounters(text);
}

async function controlPlaneMetrics(address: string, token: string): Promise<Map<string, number>> {
  const res = await fetch(`${address}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${address}/metrics: HTTP ${res.status}`);
  return parseCounters(await res.text());
}

/** EdgeNode requests the API server served, by verb (and subresource), between two scrapes. */
function edgeNodeCalls(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!key.startsWith('apiserver_request_total{') || !key.includes('resource="edgenodes"')) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta <= 0) continue;
    const verb = /verb="([^"]*)"/.exec(key)?.[1] ?? '?';
    const sub = /subresource="([^"]*)"/.exec(key)?.[1];
    const name = sub ? `${verb} ${sub}` : verb;
    out[name] = (out[name] ?? 0) + delta;
  }
  return out;
}

/**
 * Mean time the API server took per EdgeNode request, by verb, ms, from its own histogram; and
 * the mean time requests of any kind waited in its priority-and-fairness queues.
 */
function apiServerLatency(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const sums = new Map<string, { sum: number; count: number }>();
  const add = (name: string, key: string, value: number) => {
    const e = sums.get(name) ?? { sum: 0, count: 0 };
    if (key.includes('_sum{')) e.sum += value - (before.get(key) ?? 0);
    else e.count += value - (before.get(key) ?? 0);
    sums.set(name, e);
  };
  for (const [key, value] of after) {
    if (/^apiserver_request_duration_seconds_(sum|count)\{/.test(key) && key.includes('resource="edgenodes"')) {
      const verb = /verb="([^"]*)"/.exec(key)?.[1] ?? '?';
      const sub = /subresource="([^"]*)"/.exec(key)?.[1];
      if (verb === 'WATCH' || verb === 'LIST') continue;
      add(sub ? `${verb} ${sub}` : verb, key, value);
    } else if (/^apiserver_flowcontrol_request_wait_duration_seconds_(sum|count)\{/.test(key)) add('queued (any request)', key, value);
  }
  const out: Record<string, number> = {};
  for (const [name, { sum, count }] of sums) if (count > 0) out[name] = round((sum / count) * 1000);
  return out;
}

function counter(m: Map<string, number>, key: string): number {
  return m.get(key) ?? 0;
}

/** EdgeNodes of this run's fleet, and how many carry the status a hello writes. */
async function storedNodes(custom: CustomObjectsApi, selector: string): Promise<{ nodes: number; withStatus: number }> {
  const list = (await custom.listClusterCustomObject({ ...crd, plural: nodesKind.plural, labelSelector: selector })) as { items: { status?: { agentVersion?: string } }[] };
  return { nodes: list.items.length, withStatus: list.items.filter((i) => i.status?.agentVersion !== undefined).length };
}

async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await work(i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** The Kubernetes work of a new node's hello alone, straight to the API server. */
async function kubeBaseline(kubeconfigPath: string, prefix: string, n: number, limit: number): Promise<{ seconds: number; perSecond: number; calls: number }> {
  const { custom } = kubeClients(loadKubeConfig({ source: 'file', path: kubeconfigPath }));
  const start = performance.now();
  await pool(n, limit, async (i) => {
    const name = `${prefix}-${String(i + 1).padStart(5, '0')}`;
    await custom.getClusterCustomObject({ ...crd, plural: nodesKind.plural, name }).catch(() => null);
    const created = (await custom.createClusterCustomObject({
      ...crd,
      plural: nodesKind.plural,
      body: { apiVersion: API_VERSION, kind: EN_KIND, metadata: { name, labels: { 'edgeplane.io/bench': prefix } }, spec: { unschedulable: false } },
    })) as Record<string, unknown>;
    await custom.replaceClusterCustomObjectStatus({ ...crd, plural: nodesKind.plural, name, body: { ...created, status: { conditions: [] } } });
  });
  const seconds = (performance.now() - start) / 1000;
  return { seconds: round(seconds, 2), perSecond: round(n / seconds), calls: n * 3 };
}

const hello: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 5000);
  const concurrency = numberFlag(argv, 'concurrency', 256);
  const baselineNodes = Math.min(nodes, numberFlag(argv, 'baseline-nodes', 1000));
  const maxInFlightAt = argv.indexOf('--hello-max-in-flight');
  const env: Record<string, string> = maxInFlightAt >= 0 ? { EP_HELLO_MAX_IN_FLIGHT: String(argv[maxInFlightAt + 1]) } : {};
  const helloMaxInFlight = Number(env.EP_HELLO_MAX_IN_FLIGHT ?? DEFAULT_HELLO_MAX_IN_FLIGHT);

  log('starting etcd + kube-apiserver');
  const kube = await startKube();
  try {
    await installCrds(kube);
    const kc = kubeConfig(kube);
    let api0 = new Map<string, number>();
    let cp0 = new Map<string, number>();
    let cpu0 = 0;
    let servers0: Record<string, number> = {};
    let t0 = 0;
    const stack = await startFleetStack({
      nodes,
      kube,
      controlPlane: 'child',
      env,
      helloTimeoutMs: 900_000,
      simulation: { helloConcurrency: concurrency, helloTimeoutMs: AGENT_HELLO_TIMEOUT_MS },
      log,
      async beforeSimulation(cp) {
        api0 = await apiServerMetrics(kc);
        cp0 = await controlPlaneMetrics(cp.address, kube.token);
        cpu0 = cpuSeconds(cp.pid!);
        servers0 = serversCpuSeconds();
        t0 = performance.now();
      },
    });
    let result: Record<string, unknown>;
    try {
      const seconds = (performance.now() - t0) / 1000;
      const cpuHello = cpuSeconds(stack.controlPlane.pid!) - cpu0;
      const { custom } = kubeClients(kc);
      // A hello may be answered before its EdgeNode is written: wait for every one, with status.
      let stored = await storedNodes(custom, stack.fleetSelector);
      while (stored.withStatus < nodes && (performance.now() - t0) / 1000 < seconds + 300) {
        await sleep(2000);
        stored = await storedNodes(custom, stack.fleetSelector);
      }
      const storedSeconds = (performance.now() - t0) / 1000;
      const api1 = await apiServerMetrics(kc);
      const cp1 = await controlPlaneMetrics(stack.controlPlane.address, kube.token);
      const cpu = cpuSeconds(stack.controlPlane.pid!) - cpu0;
      const servers1 = serversCpuSeconds();
      const calls = edgeNodeCalls(api0, api1);
      const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
      const outcome = (o: string) => counter(cp1, `edgeplane_hellos_total{outcome="${o}"}`) - counter(cp0, `edgeplane_hellos_total{outcome="${o}"}`);
      const s = stack.sim.stats();

      // The same fleet again: known nodes.
      await stack.sim.stop();
      const a0 = await apiServerMetrics(kc);
      const c0 = await controlPlaneMetrics(stack.controlPlane.address, kube.token);
      const againCpu0 = cpuSeconds(stack.controlPlane.pid!);
      const againStart = performance.now();
      const again = await startSimulation({
        natsUrl: stack.nats.url,
        natsCreds: await stack.nats.credsFile('admin'),
        natsCa: stack.nats.caFile ?? undefined,
        nodes,
        namePrefix: `n${stack.runId}`,
        labels: stack.fleetLabels,
        helloConcurrency: concurrency,
        helloTimeoutMs: AGENT_HELLO_TIMEOUT_MS,
      });
      let againResult: Record<string, unknown>;
      try {
        await again.waitAccepted(600_000);
        const againSeconds = (performance.now() - againStart) / 1000;
        const againCpu = cpuSeconds(stack.controlPlane.pid!) - againCpu0;
        // Its refreshes (if any) drain after the replies.
        await sleep(2000);
        const againCalls = edgeNodeCalls(a0, await apiServerMetrics(kc));
        const c1 = await controlPlaneMetrics(stack.controlPlane.address, kube.token);
        const againTotal = Object.values(againCalls).reduce((a, b) => a + b, 0);
        const as = again.stats();
        againResult = {
          seconds: round(againSeconds, 2),
          hellosPerSecond: round(nodes / againSeconds),
          apiCalls: { edgeNodes: againTotal, perNode: round(againTotal / nodes, 2), byVerb: againCalls },
          hellos: { requests: as.helloRequests, busy: counter(c1, 'edgeplane_hellos_total{outcome="busy"}') - counter(c0, 'edgeplane_hellos_total{outcome="busy"}') },
          controlPlaneCpuSeconds: round(againCpu, 2),
        };
        log(`${nodes} known nodes said hello again in ${againSeconds.toFixed(2)} s; EdgeNode calls ${JSON.stringify(againCalls)}`);
      } finally {
        await again.stop();
      }
      log(`${nodes} hellos accepted in ${seconds.toFixed(2)} s; every EdgeNode stored with its status after ${storedSeconds.toFixed(2)} s; EdgeNode calls ${JSON.stringify(calls)}`);
      result = {
        bench: 'hello',
        nodes,
        seconds: round(seconds, 2),
        hellosPerSecond: round(nodes / seconds),
        edgeNodesStoredSeconds: round(storedSeconds, 2),
        edgeNodes: stored.nodes,
        edgeNodesWithStatus: stored.withStatus,
        apiCalls: { edgeNodes: totalCalls, perNode: round(totalCalls / nodes, 2), byVerb: calls, serverMeanMs: apiServerLatency(api0, api1) },
        hellos: { requests: s.helloRequests, accepted: outcome('accepted'), busy: outcome('busy'), errors: outcome('error'), rateLimited: outcome('rate-limited'), timedOut: s.helloFailures - outcome('busy') - outcome('error') - outcome('rate-limited') - outcome('node-limit') },
        controlPlaneCpuSeconds: { untilAccepted: round(cpuHello, 2), untilStored: round(cpu, 2) },
        serversCpuSeconds: Object.fromEntries(Object.entries(servers1).map(([k, v]) => [k, round(v - (servers0[k] ?? 0), 2)])),
        again: againResult,
        simulation: { helloConcurrency: concurrency, helloTimeoutMs: AGENT_HELLO_TIMEOUT_MS, controlPlaneHelloMaxInFlight: helloMaxInFlight, connections: Math.ceil(nodes / 500) },
      };
    } finally {
      log('stopping the fleet and the control plane');
      await stack.stop();
    }
    log(`baseline: the Kubernetes work of ${baselineNodes} new nodes' hellos alone, ${helloMaxInFlight} at once`);
    const baseline = await kubeBaseline(kube.kubeconfigPath, `base${Date.now().toString(36)}`, baselineNodes, helloMaxInFlight);
    return {
      ...result,
      baseline: {
        what: `the Kubernetes work of ${baselineNodes} new nodes' hellos alone (EdgeNode read, absent; created; status replaced), ${helloMaxInFlight} at once, straight to the API server with the control plane's client, control plane stopped`,
        ...baseline,
      },
      goal: { seconds: 20, nodes: 5000 },
      loadAverage1m: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    };
  } finally {
    await kube.stop();
  }
};

export default hello;
